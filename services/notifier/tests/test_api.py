"""The caseworkers' REST view of a case's notifications and the resend, through the real app and its lifespan,
with bearer tokens signed by a development key the app trusts and case-api's team rules."""

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from devinfra.devkey import DevKey
from devinfra.ports import free_port
from notifier.config import Settings
from notifier.main import create_app
from notifier.notifications.models import Status
from notifier.templating.catalog import catalog
from service_kit.clock import FixedClock

pytestmark = pytest.mark.postgres

TEAM = "team-noord"
RESENT_AT = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def dev_key(tmp_path_factory: pytest.TempPathFactory) -> DevKey:
    """A development signing key of this test session; the app under test trusts its JWKS."""
    return DevKey.ensure(tmp_path_factory.mktemp("notifier-dev-oidc"))


@pytest.fixture
def bearer(dev_key: DevKey) -> Callable[..., dict[str, str]]:
    """An Authorization header for a made-up caller with `roles` in `team`."""

    def header(*roles: str, team: str | None = TEAM, subject: str = "caseworker-1") -> dict[str, str]:
        return {"authorization": f"Bearer {dev_key.mint_token(list(roles), team=team, subject=subject)}"}

    return header


@pytest.fixture
async def app(database_url: str, dev_key: DevKey, tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        oidc_jwks_url=str(dev_key.jwks_path),
        # Nothing listens there: the API never needs Kafka (the relay publishes the outbox).
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
        outbox_dir=tmp_path / "outbox",
    )
    app = create_app(settings, clock=FixedClock(RESENT_AT))
    # httpx's ASGITransport does not run the lifespan; the app's engine and sessions come from it.
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifier.test") as client:
        yield client


@pytest.fixture
async def informed_case(apply_events: Any, events: Any, helpers: Any, dispatcher: Any) -> str:
    """A case of TEAM opened from a signal, whose M1 went out by letter, SMS and e-mail; and another team's."""
    ours = events.opened(team=TEAM)
    await apply_events(ours, events.opened(team="team-zuid"))
    await dispatcher.run_once(helpers.opened_at)
    return str(ours.subject)


async def test_without_a_token_the_notifications_are_401(client: httpx.AsyncClient, informed_case: str) -> None:
    response = await client.get(f"/v1/cases/{informed_case}/notifications")
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "items" not in response.json()

    forged = await client.get(
        f"/v1/cases/{informed_case}/notifications", headers={"authorization": "Bearer not.a.token"}
    )
    assert forged.status_code == 401


@pytest.mark.parametrize(
    ("roles", "team"),
    [
        (("outreach_worker",), "team-zuid"),  # another area team
        (("team_lead",), "team-zuid"),
        (("policy_analyst",), None),  # aggregates only, never a case
        (("notifier",), None),  # a service account, not a caseworker
    ],
)
async def test_a_caller_outside_the_case_s_team_is_403(
    client: httpx.AsyncClient, bearer: Any, informed_case: str, roles: tuple[str, ...], team: str | None
) -> None:
    response = await client.get(f"/v1/cases/{informed_case}/notifications", headers=bearer(*roles, team=team))
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "items" not in response.json()


@pytest.mark.parametrize(
    ("roles", "team"),
    [(("outreach_worker",), TEAM), (("debt_counsellor",), TEAM), (("team_lead",), TEAM), (("admin",), None)],
)
async def test_the_own_team_sees_the_case_s_notifications_with_their_history_and_the_reasons(
    client: httpx.AsyncClient,
    bearer: Any,
    informed_case: str,
    ledger: Any,
    roles: tuple[str, ...],
    team: str | None,
) -> None:
    response = await client.get(f"/v1/cases/{informed_case}/notifications", headers=bearer(*roles, team=team))

    assert response.status_code == 200, response.text
    listing = response.json()
    stored = {n.id: n for n in await ledger.notifications(informed_case)}
    assert {item["id"] for item in listing["items"]} == set(stored)  # this case's, not the other team's
    by_channel = {item["channel"]: item for item in listing["items"]}
    assert set(by_channel) == {"letter", "sms", "email"}
    sms = by_channel["sms"]
    assert {k: sms[k] for k in ("case_id", "moment", "occasion", "language", "status", "attempts", "address_kind")} == {
        "case_id": informed_case,
        "moment": "M1",
        "occasion": "",
        "language": "nl",
        "status": "sent",
        "attempts": 1,
        "address_kind": "mobile",
    }
    assert sms["sent_at"] == "2026-03-02T09:30:00Z"
    assert [(h["attempt"], h["status"]) for h in sms["history"]] == [(1, "requested"), (1, "sent")]
    [decision] = listing["decisions"]
    assert decision["moment"] == "M1"
    assert [r["channel"] for r in decision["reasons"]] == ["letter", "sms", "email"]
    assert [(p["moment"], p["status"]) for p in listing["planned"]] == [("M1", "fired"), ("M2", "pending")]
    # Which kind of address was used, never the address.
    assert "example.invalid" not in response.text
    assert "Proefstraat" not in response.text


async def test_an_unknown_case_is_404(client: httpx.AsyncClient, bearer: Any, events: Any) -> None:
    response = await client.get(
        f"/v1/cases/{events.opened().subject}/notifications", headers=bearer("team_lead", team=TEAM)
    )
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_case_opened_by_staff_is_known_and_lists_no_notifications(
    client: httpx.AsyncClient, bearer: Any, apply_events: Any, events: Any
) -> None:
    by_staff = events.opened(opened_by="staff")
    await apply_events(by_staff)
    response = await client.get(f"/v1/cases/{by_staff.subject}/notifications", headers=bearer("outreach_worker"))
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "decisions": [], "planned": []}


async def test_a_resend_is_a_new_notification_with_the_reason_and_who_asked(
    client: httpx.AsyncClient,
    bearer: Any,
    informed_case: str,
    ledger: Any,
    dispatcher: Any,
    channels: Any,
) -> None:
    original = {n.channel: n for n in await ledger.notifications(informed_case)}["email"]
    outbox_before = await ledger.outbox()

    response = await client.post(
        f"/v1/notifications/{original.id}/resend",
        json={"reason": "household asked for the e-mail again"},
        headers=bearer("outreach_worker", subject="caseworker-7"),
    )

    assert response.status_code == 201, response.text
    resent = response.json()
    assert resent["id"] != original.id
    assert {k: resent[k] for k in ("case_id", "moment", "channel", "language", "status", "attempts")} == {
        "case_id": informed_case,
        "moment": "M1",
        "channel": "email",
        "language": "nl",
        "status": "requested",
        "attempts": 0,
    }
    assert (resent["resend_of"], resent["requested_by"]) == (original.id, "caseworker-7")
    assert resent["reason"] == "resend: household asked for the e-mail again"
    assert resent["created_at"] == resent["due_at"] == "2026-03-03T14:00:00Z"

    stored = await ledger.notification(resent["id"])
    assert (stored.resend_of, stored.requested_by, stored.status) == (original.id, "caseworker-7", Status.requested)
    unchanged = await ledger.notification(original.id)
    assert (unchanged.status, unchanged.attempts, unchanged.resend_of) == (Status.sent, 1, None)
    [row] = (await ledger.outbox())[len(outbox_before) :]
    [event] = [e for e in await ledger.outbox_events("notification.requested") if e.id == row.event_id]
    assert event.data == {
        "notification_id": resent["id"],
        "moment": "M1",
        "channel": "email",
        "language": "nl",
        "attempt": 1,
    }
    assert event.subject == row.key == informed_case

    # The dispatcher sends it like any other: the e-mail goes out a second time, on purpose, once.
    def emails_of_the_case() -> list[str]:
        return [m.notification_id for m in channels["email"].messages if m.case_id == informed_case]

    await dispatcher.dispatch_due(RESENT_AT)
    assert emails_of_the_case() == [original.id, resent["id"]]
    await dispatcher.dispatch_due(RESENT_AT + timedelta(minutes=5))
    assert emails_of_the_case() == [original.id, resent["id"]]


@pytest.mark.parametrize(
    ("roles", "team", "status"),
    [
        ((), TEAM, 401),
        (("debt_counsellor",), TEAM, 403),  # reads, does not resend
        (("outreach_worker",), "team-zuid", 403),
    ],
)
async def test_a_resend_needs_a_resender_of_the_case_s_team(
    client: httpx.AsyncClient,
    bearer: Any,
    informed_case: str,
    ledger: Any,
    roles: tuple[str, ...],
    team: str,
    status: int,
) -> None:
    [original, *_] = await ledger.notifications(informed_case)
    outbox_before = len(await ledger.outbox())
    response = await client.post(
        f"/v1/notifications/{original.id}/resend",
        json={"reason": "household asked again"},
        headers=bearer(*roles, team=team) if roles else None,
    )
    assert response.status_code == status, response.text
    assert len(await ledger.notifications(informed_case)) == 3
    assert len(await ledger.outbox()) == outbox_before


async def test_a_resend_of_an_unknown_notification_is_404(
    client: httpx.AsyncClient, bearer: Any, events: Any, ledger: Any
) -> None:
    response = await client.post(
        f"/v1/notifications/{events.opened().subject}/resend",
        json={"reason": "household asked again"},
        headers=bearer("admin", team=None),
    )
    assert response.status_code == 404, response.text
    assert await ledger.notifications() == []


@pytest.mark.parametrize("body", [{"reason": ""}, {"reason": "  "}, {}])
async def test_a_resend_without_a_reason_is_400_naming_the_reason(
    client: httpx.AsyncClient, bearer: Any, informed_case: str, ledger: Any, body: dict[str, str]
) -> None:
    [original, *_] = await ledger.notifications(informed_case)
    response = await client.post(
        f"/v1/notifications/{original.id}/resend", json=body, headers=bearer("team_lead", team=TEAM)
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 400
    assert [error["field"] for error in problem["errors"]] == ["reason"]
    assert problem["detail"].startswith("reason: ")
    assert len(await ledger.notifications(informed_case)) == 3


# ---------------------------------------------------------------------------------------------- templates


async def test_templates_are_listed_with_their_languages_and_versions(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/templates")
    assert response.status_code == 200
    items = {item["id"]: item for item in response.json()["items"]}
    assert set(items) == {template.id for template in catalog()}
    assert items["M4.letter"] == {
        "id": "M4.letter",
        "moment": "M4",
        "channel": "letter",
        "languages": {"en": "1", "fy": "1", "nl": "1"},
    }
    assert "M2.letter" not in items


async def test_a_template_previews_with_marked_placeholders_not_an_invented_person(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/templates/M4.letter/preview", params={"language": "fy"})
    assert response.status_code == 200, response.text
    preview = response.json()
    assert (preview["id"], preview["language"], preview["version"]) == ("M4.letter", "fy", "1")
    assert preview["subject"] == "De datum fan de ûntromming is bekend: «datum ûntromming»"
    assert preview["body"].startswith("Bêste «namme»,")
    assert "Kenmerk: VOORBEELD" in preview["body"]
    assert preview["case_id"] is None
    assert preview["preview"] is True, "a preview says it is one"
    assert preview["notice"].startswith("PREVIEW")
    assert "placeholders" in preview["notice"]
    assert "Jelle" not in preview["body"]
    assert "Testhuis" not in preview["body"]

    dutch = (await client.get("/v1/templates/M8.email/preview", params={"belongingsMessage": "stored"})).json()
    assert dutch["subject"] == "Uw spullen zijn opgeslagen: haal ze op vóór «einde bewaartijd»"
    for placeholder in ("«naam»", "«opslagplaats»", "«kenmerk opgeslagen spullen»"):
        assert placeholder in dutch["body"], placeholder
    refused = (await client.get("/v1/templates/M9.letter/preview", params={"granted": "false"})).json()
    assert "afgewezen" in refused["body"]


async def test_a_preview_for_a_case_needs_a_caseworker_of_its_team(
    client: httpx.AsyncClient, informed_case: str, bearer: Callable[..., dict[str, str]]
) -> None:
    path = f"/v1/cases/{informed_case}/templates/M1.letter/preview"
    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers=bearer("policy_analyst", team=None))).status_code == 403
    assert (await client.get(path, headers=bearer("outreach_worker", team="team-zuid"))).status_code == 403
    unknown = await client.get("/v1/cases/no-such-case/templates/M1.letter/preview", headers=bearer("outreach_worker"))
    assert unknown.status_code == 404
    # Without a case the preview names no household, whatever the query asks.
    placeholders = await client.get("/v1/templates/M1.letter/preview", params={"case_id": informed_case})
    assert placeholders.status_code == 200
    assert placeholders.json()["case_id"] is None


async def test_an_unknown_template_or_language_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/templates/M2.letter/preview")).status_code == 404
    assert (await client.get("/v1/templates/M1.sms/preview", params={"language": "de"})).status_code == 404
