"""AES-256-GCM for small values at rest (a BSN in case-api, partners' webhook secrets in the gateway), with keys
that rotate by version. No message, repr or exception raised here ever contains a key or a plaintext.

A token is `version (1 byte) || nonce (12) || ciphertext+tag`. The version byte names the key and is
authenticated as associated data, together with whatever context the caller binds the value to (a column's
name, say), so a token moved to another place fails to decrypt. Encrypt with the current key, decrypt with any
key still listed as a previous one.
"""

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from service_kit.settings import DEVELOPMENT_SECRET_MARKER

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # 96 bits, the size GCM is designed for
TAG_BYTES = 16


class TokenError(ValueError):
    """A token could not be decrypted."""


class UnknownKey(TokenError):
    """The token is malformed, or was made with a key this keyring does not have."""


class Unauthentic(TokenError):
    """The token failed authentication: the wrong key, another context, or an altered token."""


def decode_key(value: str, *, name: str) -> bytes:
    """A key setting as bytes: base64 of 32 bytes, or a development value that derives a fixed development key."""
    if DEVELOPMENT_SECRET_MARKER in value:
        # Stable across restarts so local data stays readable; production refuses any "change-me" value.
        return hashlib.sha256(f"eviction-prevention development key|{name}|{value}".encode()).digest()
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ValueError(
            f"{name} must be base64 of {KEY_BYTES} random bytes; make one with "
            "`python -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'`"
        )
    return key


class AesGcmKeyring:
    """The current key (it encrypts) and previous ones (they still decrypt), each under a one-byte version."""

    def __init__(self, key: bytes, *, key_version: int = 1, previous_keys: Mapping[int, bytes] | None = None) -> None:
        keys = {**(previous_keys or {}), key_version: key}
        for version, each in keys.items():
            if not 0 <= version <= 255:
                raise ValueError("key versions must fit in one byte (0-255)")
            if len(each) != KEY_BYTES:
                raise ValueError(f"encryption key {version} must be {KEY_BYTES} bytes (AES-256)")
        self._version = key_version
        self._keys = keys
        self._ciphers = {version: AESGCM(each) for version, each in keys.items()}

    def __repr__(self) -> str:
        return f"AesGcmKeyring(key_version={self._version})"

    @property
    def key_version(self) -> int:
        return self._version

    def holds(self, key: bytes) -> bool:
        """Whether `key` is one of this keyring's keys (a key meant for something else must differ)."""
        return key in self._keys.values()

    def encrypt(self, plaintext: bytes, *, context: bytes = b"") -> bytes:
        """A fresh token each call (random nonce), under the current key, bound to `context`."""
        prefix = bytes([self._version])
        nonce = os.urandom(NONCE_BYTES)
        return prefix + nonce + self._ciphers[self._version].encrypt(nonce, plaintext, prefix + context)

    def decrypt(self, token: bytes, *, context: bytes = b"") -> bytes:
        if len(token) < 1 + NONCE_BYTES + TAG_BYTES or token[0] not in self._ciphers:
            raise UnknownKey("the token is malformed or was made with a key this keyring does not have")
        prefix, nonce, ciphertext = token[:1], token[1 : 1 + NONCE_BYTES], token[1 + NONCE_BYTES :]
        try:
            return self._ciphers[token[0]].decrypt(nonce, ciphertext, prefix + context)
        except InvalidTag:
            raise Unauthentic("the token failed authentication: wrong key, other context or altered token") from None

    def needs_reencryption(self, token: bytes) -> bool:
        """True when the token was made under an older key (rotate by decrypting and encrypting again)."""
        return not token or token[0] != self._version
