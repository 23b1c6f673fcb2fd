"""Partners' webhook secrets at rest: AES-256-GCM under GATEWAY_SECRET_KEY (service_kit.crypto, as case-api keeps
the BSN).

They are shared HMAC keys the gateway must read back to sign and verify, so they cannot be hashed; encrypted,
a copy of the database (a backup, a replica, a support dump) holds no usable secret without the key, which
lives in the environment only. Each column's token is bound to the column's name (associated data), so a
token copied into another column does not decrypt.

The ORM type does the sealing, so the rest of the service sees plain `whsec_...` strings. The key is the one of
the settings the process runs with: `create_app` calls `use_settings` with the app's settings; a worker, which
reads `get_settings()`, gets the same on first use. Migrations name these columns `sa.LargeBinary()` (autogenerate
renders this class; replace it, so migrations never import service code).
"""

import functools
from typing import Any

from sqlalchemy import LargeBinary
from sqlalchemy.types import TypeDecorator

from partner_gateway.config import Settings, get_settings
from service_kit.crypto import AesGcmKeyring, TokenError, decode_key

_keyring: AesGcmKeyring | None = None


class SecretUnreadable(RuntimeError):
    """A stored secret does not decrypt: GATEWAY_SECRET_KEY is not the key it was stored under."""


def use_settings(settings: Settings) -> None:
    """Seal and open secrets with the key of `settings` from now on, in this process."""
    global _keyring
    _keyring = _keyring_of(settings.secret_key.get_secret_value())


@functools.lru_cache(maxsize=4)
def _keyring_of(value: str) -> AesGcmKeyring:
    return AesGcmKeyring(decode_key(value, name="secret_key"))


def keyring() -> AesGcmKeyring:
    if _keyring is None:
        use_settings(get_settings())
    assert _keyring is not None
    return _keyring


class SealedSecret(TypeDecorator[str]):
    """A secret string stored as an AES-GCM token bound to `partner.<column>`; None stays NULL."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, column: str) -> None:
        super().__init__()
        self.column = column

    @property
    def _context(self) -> bytes:
        return f"partner.{self.column}".encode()

    def process_bind_param(self, value: str | None, dialect: Any) -> bytes | None:
        if value is None:
            return None
        return keyring().encrypt(value.encode(), context=self._context)

    def process_result_value(self, value: bytes | None, dialect: Any) -> str | None:
        if value is None:
            return None
        try:
            return keyring().decrypt(bytes(value), context=self._context).decode()
        except TokenError:
            raise SecretUnreadable(
                f"partner.{self.column} does not decrypt: GATEWAY_SECRET_KEY is not the key it was stored under"
            ) from None
