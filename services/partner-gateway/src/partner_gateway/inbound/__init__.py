"""Messages partners send in: verified, validated, stored, then forwarded to case-api by the inbound worker."""
