"""Made-up test data and callers for case-api's tests (importable: tests/ is on pytest's pythonpath).

Names, addresses and BSNs here are fictitious; a BSN only passes the eleven-test."""

from datetime import date

from devinfra.devkey import DevKey

TEAM = "team-noord"


def bearer(dev_key: DevKey, *roles: str, team: str | None = TEAM, subject: str = "caseworker-1") -> dict[str, str]:
    """An Authorization header for a made-up caller with `roles` in `team`."""
    return {"authorization": f"Bearer {dev_key.mint_token(list(roles), team=team, subject=subject)}"}


def made_up_household(
    *,
    postcode: str = "8911 AB",
    house_number: str = "12",
    bsn: str | None = None,
    children_born: tuple[date, ...] = (date(2015, 6, 1), date(2019, 9, 12)),
) -> dict[str, object]:
    """A fictitious household (names and BSNs are made up; a BSN here only passes the eleven-test)."""
    members: list[dict[str, object]] = [
        {"role": "tenant", "initials": "J.", "given_name": "Jelle", "surname": "Testhuis", "birth_date": "1988-04-02"}
    ]
    members += [
        {"role": "child", "given_name": f"Kind{index}", "surname": "Testhuis", "birth_date": born.isoformat()}
        for index, born in enumerate(children_born, start=1)
    ]
    household: dict[str, object] = {
        "street": "Proefstraat",
        "house_number": house_number,
        "postcode": postcode,
        "city": "Leeuwarden",
        "email": "jelle.testhuis@example.invalid",
        "mobile": "0612345678",
        "preferred_channel": "sms",
        "language": "nl",
        "members": members,
    }
    if bsn:
        household["bsn"] = bsn
    return household


def made_up_signal(**overrides: object) -> dict[str, object]:
    return {
        "partner_kind": "housing_corporation",
        "partner_id": "corporation-test",
        "partner_reference": "tenancy-0001",
        "arrears_amount": "1234.56",
        "arrears_since": "2026-01-01",
        "signal_date": "2026-02-27",
        "crisis": False,
        **overrides,
    }
