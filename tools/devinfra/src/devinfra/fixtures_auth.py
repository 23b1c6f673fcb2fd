"""Session fixture for bearer tokens: a development signing key whose JWKS the app under test trusts."""

import pytest

from devinfra.devkey import DevKey


@pytest.fixture(scope="session")
def dev_key(tmp_path_factory: pytest.TempPathFactory) -> DevKey:
    """A development signing key of this test session (`dev_key.mint_token(roles, team=..., subject=...)`); point
    the app's `oidc_jwks_url` at `dev_key.jwks_path`."""
    return DevKey.ensure(tmp_path_factory.mktemp("dev-oidc"))
