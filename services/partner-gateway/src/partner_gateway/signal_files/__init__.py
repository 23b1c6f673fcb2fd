"""Monthly CSV files of arrears signals from housing corporations and utilities (contract.md, "Batch")."""
