"""R15: the BSN is validated with the eleven-test, stored encrypted, matched blind, shown masked, never leaked.

Every BSN here is made up: 111222333 and numbers completed with the eleven-test from patterned prefixes.
"""

import base64
import os

import pytest
from pydantic import SecretStr

from case_api.config import Settings
from case_api.privacy import BsnTokenError, BsnVault, decode_key, is_valid_bsn, mask, vault_from_settings

WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2)


def complete(prefix: str) -> str:
    """Append the check digit that makes an 8-digit prefix pass the eleven-test (refuses when none exists)."""
    check = sum(int(digit) * weight for digit, weight in zip(prefix, WEIGHTS, strict=True)) % 11
    assert check < 10, f"no check digit completes {prefix}"
    return prefix + str(check)


FICTITIOUS = ["111222333", complete("10000000"), complete("12121212"), complete("24682468"), complete("98765432")]
BSN = FICTITIOUS[0]
OTHER_BSN = FICTITIOUS[1]


def vault(**overrides: object) -> BsnVault:
    values: dict[str, object] = {"encryption_key": b"e" * 32, "index_key": b"i" * 32, **overrides}
    return BsnVault(**values)  # type: ignore[arg-type]


# --- the eleven-test -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bsn", FICTITIOUS)
def test_made_up_numbers_that_pass_the_eleven_test_are_valid(bsn: str) -> None:
    assert is_valid_bsn(bsn)


def test_the_worked_example() -> None:
    # 1*9 + 1*8 + 1*7 + 2*6 + 2*5 + 2*4 + 3*3 + 3*2 + 3*-1 = 66 = 6 * 11
    assert is_valid_bsn("111222333")
    assert complete("11122233") == "111222333"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "111222334",  # wrong check digit
        "11122233",  # 8 digits
        "1112223330",  # 10 digits
        "000000000",  # passes the sum, never issued
        "11122233a",
        " 111222333",
        "111222333\n",
        "111 222 333",
        "111-222-333",
        "١١١٢٢٢٣٣٣",  # Arabic-Indic digits: str.isdigit() would accept them
        "-11222333",
    ],
)
def test_invalid_values(value: str) -> None:
    assert not is_valid_bsn(value)


@pytest.mark.parametrize("bsn", FICTITIOUS)
def test_every_single_digit_error_and_adjacent_swap_is_caught(bsn: str) -> None:
    for position in range(9):
        for digit in "0123456789":
            if digit != bsn[position]:
                assert not is_valid_bsn(bsn[:position] + digit + bsn[position + 1 :])
    for position in range(8):
        swapped = bsn[:position] + bsn[position + 1] + bsn[position] + bsn[position + 2 :]
        if swapped != bsn:
            assert not is_valid_bsn(swapped)


# --- encryption ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bsn", FICTITIOUS)
def test_encryption_round_trip(bsn: str) -> None:
    assert vault().decrypt(vault().encrypt(bsn)) == bsn


def test_the_token_is_versioned_and_hides_the_number() -> None:
    token = vault().encrypt(BSN)
    assert token[0] == 1
    assert len(token) == 1 + 12 + 9 + 16  # version, nonce, ciphertext, tag
    assert BSN.encode() not in token


def test_sealed_data_opens_only_in_its_context_and_never_as_a_bsn_token() -> None:
    sealed = vault().seal(f'{{"bsn": "{BSN}"}}'.encode(), context=b"caller/key")
    assert BSN.encode() not in sealed
    assert vault().unseal(sealed, context=b"caller/key") == f'{{"bsn": "{BSN}"}}'.encode()
    with pytest.raises(BsnTokenError):
        vault().unseal(sealed, context=b"other-caller/key")
    with pytest.raises(BsnTokenError):
        vault().decrypt(vault().seal(BSN.encode(), context=b""))


def test_ciphertext_differs_each_time() -> None:
    tokens = {vault().encrypt(BSN) for _ in range(20)}
    assert len(tokens) == 20


def test_a_tampered_token_fails_at_every_byte() -> None:
    the_vault = vault()
    token = the_vault.encrypt(BSN)
    for position in range(len(token)):
        altered = bytearray(token)
        altered[position] ^= 0x01
        with pytest.raises(BsnTokenError):
            the_vault.decrypt(bytes(altered))


@pytest.mark.parametrize("token", [b"", b"\x01", b"\x01" + b"\x00" * 20])
def test_a_truncated_token_fails(token: bytes) -> None:
    with pytest.raises(BsnTokenError):
        vault().decrypt(token)


def test_the_wrong_key_fails() -> None:
    token = vault().encrypt(BSN)
    with pytest.raises(BsnTokenError, match="wrong key"):
        vault(encryption_key=b"x" * 32).decrypt(token)


def test_keys_rotate_by_version() -> None:
    old = vault()
    old_token = old.encrypt(BSN)
    new = vault(encryption_key=b"n" * 32, key_version=2, previous_keys={1: b"e" * 32})
    assert new.decrypt(old_token) == BSN
    assert new.needs_reencryption(old_token)
    new_token = new.encrypt(BSN)
    assert new_token[0] == 2
    assert not new.needs_reencryption(new_token)
    with pytest.raises(BsnTokenError, match="key this vault does not have"):
        old.decrypt(new_token)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"encryption_key": b"short"}, "32 bytes"),
        ({"index_key": b"short"}, "at least 32 bytes"),
        ({"index_key": b"e" * 32}, "differ"),
        ({"key_version": 256}, "one byte"),
        ({"previous_keys": {0: b"short"}}, "32 bytes"),
    ],
)
def test_unusable_keys_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        vault(**overrides)


def test_the_vault_never_shows_its_keys() -> None:
    shown = repr(vault()) + str(vault())
    assert "eeee" not in shown
    assert "iiii" not in shown


# --- the blind index -------------------------------------------------------------------------------------------


def test_blind_index_is_stable_and_matches_without_decrypting() -> None:
    index = vault().blind_index(BSN)
    assert index == vault().blind_index(BSN)
    assert len(index) == 64
    assert int(index, 16) >= 0
    assert BSN not in index
    assert index != vault().blind_index(OTHER_BSN)


def test_blind_index_depends_on_the_key() -> None:
    assert vault().blind_index(BSN) != vault(index_key=b"j" * 32).blind_index(BSN)
    # The encryption key plays no part: rotating it keeps households matchable.
    assert vault().blind_index(BSN) == vault(encryption_key=b"n" * 32).blind_index(BSN)


# --- masking ---------------------------------------------------------------------------------------------------


def test_mask_shows_the_last_three_digits() -> None:
    assert mask("111222333") == "******333"
    assert vault().mask(OTHER_BSN) == "******" + OTHER_BSN[-3:]


# --- nothing leaks ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["111222334", "12345678", "11122233x"])
def test_an_invalid_bsn_raises_without_showing_it(value: str) -> None:
    the_vault = vault()
    for operation in (the_vault.encrypt, the_vault.blind_index, the_vault.mask, mask):
        with pytest.raises(ValueError, match="eleven-test") as raised:
            operation(value)
        assert value not in str(raised.value)
        assert value not in repr(raised.value)


def test_a_decryption_error_does_not_show_the_number_or_chain_the_cause() -> None:
    token = vault().encrypt(BSN)
    with pytest.raises(BsnTokenError) as raised:
        vault(encryption_key=b"x" * 32).decrypt(token)
    assert BSN not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


# --- keys from settings ----------------------------------------------------------------------------------------


def test_a_development_key_is_derived_stable_and_distinct_per_setting() -> None:
    key = decode_key("dev-change-me", name="bsn_encryption_key")
    assert len(key) == 32
    assert key == decode_key("dev-change-me", name="bsn_encryption_key")
    assert key != decode_key("dev-change-me", name="bsn_index_key")


def test_a_production_key_is_base64_of_32_bytes() -> None:
    raw = os.urandom(32)
    assert decode_key(base64.b64encode(raw).decode(), name="bsn_encryption_key") == raw


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"k" * 16).decode(), ""])
def test_an_unusable_key_setting_names_the_setting_and_the_fix_but_not_the_value(value: str) -> None:
    with pytest.raises(ValueError, match="bsn_index_key must be base64 of 32 random bytes") as raised:
        decode_key(value, name="bsn_index_key")
    assert not value or value not in str(raised.value)


def test_vault_from_default_settings_works_on_a_laptop() -> None:
    the_vault = vault_from_settings(Settings(_env_file=None))
    assert the_vault.decrypt(the_vault.encrypt(BSN)) == BSN


def test_vault_from_settings_uses_the_configured_keys() -> None:
    encryption_key, index_key = os.urandom(32), os.urandom(32)
    settings = Settings(
        _env_file=None,
        bsn_encryption_key=SecretStr(base64.b64encode(encryption_key).decode()),
        bsn_index_key=SecretStr(base64.b64encode(index_key).decode()),
    )
    assert vault_from_settings(settings).blind_index(BSN) == vault(
        encryption_key=encryption_key, index_key=index_key
    ).blind_index(BSN)
    assert "bsn_encryption_key" in settings.secret_fields()
    assert base64.b64encode(encryption_key).decode() not in repr(settings)


def test_production_refuses_the_development_keys() -> None:
    with pytest.raises(ValueError, match="bsn_encryption_key") as raised:
        Settings(
            _env_file=None,
            environment="production",
            oin="00000009876543210000",
            database_url="postgresql+asyncpg://case_api@db/case_api",
        )
    assert "bsn_index_key" in str(raised.value)
