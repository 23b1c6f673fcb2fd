"""R15: the BSN is validated with the eleven-test, stored encrypted, matched by a blind index, shown masked.

No message, repr or exception raised here ever contains a BSN or a key.

- Encryption: AES-256-GCM with a random 96-bit nonce (service_kit.crypto, shared with the partner gateway's
  secrets). A token is `version (1 byte) || nonce (12) || ciphertext+tag`; the version byte names the key, is
  authenticated as associated data, and lets keys rotate: encrypt with the current key, decrypt with any key
  still listed in `previous_keys`.
- Blind index: HMAC-SHA256 of the BSN under a separate secret key, hex. There are only about 10^8 valid BSNs, so
  an unkeyed hash would be reversed by trying them all; the key is what makes the index safe to store. Changing
  the index key means re-indexing every household (decrypt, index again).
- Masking: only the last 3 digits show ("******789"), enough for a worker to check a number read out on the
  phone against the record, too few to identify a person.
"""

import functools
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from service_kit.crypto import KEY_BYTES, AesGcmKeyring, Unauthentic, UnknownKey, decode_key

if TYPE_CHECKING:
    from case_api.config import Settings

__all__ = ["KEY_BYTES", "BsnTokenError", "BsnVault", "decode_key", "is_valid_bsn", "mask", "vault_from_settings"]

MASKED_DIGITS = 3
SEALED = b"sealed:"  # the associated data of BsnVault.seal, so a sealed text never decrypts as a BSN token
_BSN = re.compile(r"[0-9]{9}")
_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)
_INVALID = "bsn must be 9 digits that pass the eleven-test"


class BsnTokenError(ValueError):
    """A stored BSN token could not be decrypted: wrong or unknown key, or the token was altered."""


def is_valid_bsn(value: str) -> bool:
    """Exactly 9 ASCII digits, weighted sum (9..2 and -1) divisible by 11, and not all zeros."""
    if not isinstance(value, str) or not _BSN.fullmatch(value) or value == "000000000":
        return False
    return sum(int(digit) * weight for digit, weight in zip(value, _WEIGHTS, strict=True)) % 11 == 0


def _require_valid(bsn: str) -> None:
    if not is_valid_bsn(bsn):
        raise ValueError(_INVALID)


def mask(bsn: str) -> str:
    """Only the last 3 digits show, as in ******789."""
    _require_valid(bsn)
    return "*" * (len(bsn) - MASKED_DIGITS) + bsn[-MASKED_DIGITS:]


class BsnVault:
    """Encrypts, indexes and masks BSNs with keys it never shows."""

    def __init__(
        self,
        encryption_key: bytes,
        index_key: bytes,
        *,
        key_version: int = 1,
        previous_keys: Mapping[int, bytes] | None = None,
    ) -> None:
        self._keyring = AesGcmKeyring(encryption_key, key_version=key_version, previous_keys=previous_keys)
        if len(index_key) < KEY_BYTES:
            raise ValueError(f"index_key must be at least {KEY_BYTES} bytes")
        if self._keyring.holds(index_key):
            raise ValueError("index_key must differ from every encryption key")
        self._index_key = index_key

    def __repr__(self) -> str:
        return f"BsnVault(key_version={self._keyring.key_version})"

    @property
    def key_version(self) -> int:
        return self._keyring.key_version

    def encrypt(self, bsn: str) -> bytes:
        """A fresh token each call (random nonce), under the current key."""
        _require_valid(bsn)
        return self._keyring.encrypt(bsn.encode("ascii"))

    def decrypt(self, token: bytes) -> str:
        try:
            plaintext = self._keyring.decrypt(token)
        except UnknownKey:
            raise BsnTokenError("BSN token is malformed or was made with a key this vault does not have") from None
        except Unauthentic:
            raise BsnTokenError("BSN token failed authentication: wrong key or altered token") from None
        bsn = plaintext.decode("ascii", errors="replace")
        if not is_valid_bsn(bsn):
            raise BsnTokenError("BSN token decrypted to something that is not a valid BSN")
        return bsn

    def needs_reencryption(self, token: bytes) -> bool:
        """True when the token was made under an older key (rotate by decrypting and encrypting again)."""
        return self._keyring.needs_reencryption(token)

    def blind_index(self, bsn: str) -> str:
        """HMAC-SHA256 hex: equal for equal BSNs under one index key, so households match without decrypting."""
        _require_valid(bsn)
        return hmac.new(self._index_key, bsn.encode("ascii"), hashlib.sha256).hexdigest()

    @staticmethod
    def mask(bsn: str) -> str:
        return mask(bsn)

    def seal(self, data: bytes, *, context: bytes) -> bytes:
        """Other data that may hold a BSN (a stored answer of an idempotent write), encrypted under the BSN key and
        bound to `context`: it opens only with the same context, and never as a BSN token."""
        return self._keyring.encrypt(data, context=SEALED + context)

    def unseal(self, token: bytes, *, context: bytes) -> bytes:
        try:
            return self._keyring.decrypt(token, context=SEALED + context)
        except (UnknownKey, Unauthentic):
            raise BsnTokenError("sealed data failed authentication: wrong key, other context or altered") from None


def vault_from_settings(settings: "Settings") -> BsnVault:
    """One vault per pair of keys for the process (key decoding is not per-request work)."""
    return _vault(settings.bsn_encryption_key.get_secret_value(), settings.bsn_index_key.get_secret_value())


@functools.lru_cache(maxsize=4)
def _vault(encryption_key: str, index_key: str) -> BsnVault:
    return BsnVault(decode_key(encryption_key, name="bsn_encryption_key"), decode_key(index_key, name="bsn_index_key"))
