"""Personal data protection (R15-R18): the BSN vault."""

from case_api.privacy.bsn import BsnTokenError, BsnVault, decode_key, is_valid_bsn, mask, vault_from_settings

__all__ = ["BsnTokenError", "BsnVault", "decode_key", "is_valid_bsn", "mask", "vault_from_settings"]
