"""AES-256-GCM at rest (service_kit.crypto): versioned keys, a context a token is bound to, nothing shown."""

import pytest

from service_kit.crypto import AesGcmKeyring, Unauthentic, UnknownKey, decode_key

KEY = b"k" * 32
SECRET = b"whsec_c2VjcmV0IG9mIGEgbWFkZS11cCBwYXJ0bmVy"


def test_round_trip_with_a_fresh_nonce_each_time() -> None:
    keyring = AesGcmKeyring(KEY)
    tokens = {keyring.encrypt(SECRET, context=b"partner.outbound_secret") for _ in range(10)}
    assert len(tokens) == 10
    for token in tokens:
        assert SECRET not in token
        assert keyring.decrypt(token, context=b"partner.outbound_secret") == SECRET


def test_a_token_is_bound_to_its_context() -> None:
    keyring = AesGcmKeyring(KEY)
    token = keyring.encrypt(SECRET, context=b"partner.outbound_secret")
    with pytest.raises(Unauthentic):
        keyring.decrypt(token, context=b"partner.inbound_secret")
    with pytest.raises(Unauthentic):
        keyring.decrypt(token)


def test_keys_rotate_by_version_and_an_unknown_version_is_named_as_such() -> None:
    old = AesGcmKeyring(KEY)
    token = old.encrypt(SECRET)
    new = AesGcmKeyring(b"n" * 32, key_version=2, previous_keys={1: KEY})
    assert new.decrypt(token) == SECRET
    assert new.needs_reencryption(token)
    assert not new.needs_reencryption(new.encrypt(SECRET))
    with pytest.raises(UnknownKey):
        old.decrypt(new.encrypt(SECRET))


def test_the_wrong_key_fails_without_showing_key_or_value() -> None:
    token = AesGcmKeyring(KEY).encrypt(SECRET)
    with pytest.raises(Unauthentic) as raised:
        AesGcmKeyring(b"x" * 32).decrypt(token)
    assert raised.value.__cause__ is None
    shown = str(raised.value) + repr(raised.value) + repr(AesGcmKeyring(KEY))
    assert "kkkk" not in shown
    assert SECRET.decode() not in shown


def test_development_values_derive_a_stable_key_and_others_must_be_32_bytes_of_base64() -> None:
    assert decode_key("dev-change-me", name="a") == decode_key("dev-change-me", name="a")
    assert decode_key("dev-change-me", name="a") != decode_key("dev-change-me", name="b")
    with pytest.raises(ValueError, match="base64 of 32 random bytes"):
        decode_key("not-a-key", name="gateway_secret_key")
