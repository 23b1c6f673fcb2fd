"""case_api."""
