"""`.env.example` lists every setting of every service, and parses to the defaults it documents."""

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from case_api.config import Settings as CaseApiSettings
from notifier.config import Settings as NotifierSettings
from partner_gateway.config import Settings as GatewaySettings

ENV_EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"
SERVICES = [CaseApiSettings, NotifierSettings, GatewaySettings]


def documented_names() -> set[str]:
    names = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            names.add(line.split("=", 1)[0].strip())
    return names


@pytest.mark.parametrize("settings_class", SERVICES, ids=lambda s: s.__module__.split(".")[0])
def test_every_setting_is_listed_in_env_example(settings_class: type[BaseSettings]) -> None:
    prefix = settings_class.model_config["env_prefix"]
    expected = {prefix + name.upper() for name in settings_class.model_fields}
    assert expected - documented_names() == set()


@pytest.mark.parametrize("settings_class", SERVICES, ids=lambda s: s.__module__.split(".")[0])
def test_env_example_parses_to_the_defaults(
    settings_class: type[BaseSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in documented_names():
        monkeypatch.delenv(name, raising=False)
    from_file = settings_class(_env_file=ENV_EXAMPLE)  # type: ignore[call-arg]
    assert from_file.model_dump() == settings_class(_env_file=None).model_dump()  # type: ignore[call-arg]


def test_nothing_undocumented_is_listed() -> None:
    known = {s.model_config["env_prefix"] + name.upper() for s in SERVICES for name in s.model_fields}
    assert documented_names() - known == set()
