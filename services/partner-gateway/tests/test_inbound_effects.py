"""Every partner message changes the case, or ends `failed`/`rejected` with a reason the partner reads.

Partners' signed messages go through the gateway's app; the inbound worker forwards them over HTTP, with the
gateway's service token, to case-api's app (in this process, on its own PostgreSQL database); the effect is read
back from case-api as a caseworker would. Households, names and references are made up.
"""

import json
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from case_api.db import OutboxRecord as CaseApiOutbox
from case_api.deps import PARTNER_GATEWAY_OPERATIONS
from eviction_schemas.envelope import CloudEvent, event_type
from partner_gateway.deliveries.service import fan_out
from partner_gateway.inbound.forwarding import PLANNERS, ROUTES
from partner_gateway.inbound.types import ALL_MESSAGE_TYPES
from service_kit.clock import FixedClock
from service_kit.db import make_engine

pytestmark = [pytest.mark.postgres]


def test_every_message_type_has_a_planning_function_and_every_route_is_a_gateway_operation_of_case_api() -> None:
    assert set(PLANNERS) == ALL_MESSAGE_TYPES
    assert {("POST", route) for route in ROUTES.values()} <= PARTNER_GATEWAY_OPERATIONS


def message(message_type: str, reference: str, today: date, **data: Any) -> dict[str, Any]:
    return {"type": message_type, "reference": reference, "occurred_at": f"{today.isoformat()}T11:00:00Z", "data": data}


class Tenancy:
    """A made-up tenancy of the corporation, at an address no other test uses."""

    def __init__(self, today: date) -> None:
        self.reference = f"HUUR-{uuid.uuid4().hex[:8]}"
        self.house_number = str(1 + uuid.uuid4().int % 10**6)
        self.today = today


async def open_case(partners: Any, partner_messages: Any, tenancy: Tenancy) -> str:
    """The corporation's arrears message opens the tenancy's case."""
    outcome = await partners.deliver(
        "woonfriesland",
        partner_messages.arrears_reported(tenancy.reference, today=tenancy.today, house_number=tenancy.house_number),
    )
    assert outcome["status"] == "processed", outcome
    case_id: str = outcome["outcome"]["case_id"]
    return case_id


@pytest.fixture
def today(clock: FixedClock) -> date:
    return clock.now().date()


async def test_a_payment_arrangement_agreed_starts_support_of_that_kind(
    partner_systems: Any, case_api_app: Any, partner_messages: Any, today: date
) -> None:
    tenancy = Tenancy(today)
    case_id = await open_case(partner_systems, partner_messages, tenancy)

    agreed = message("payment-arrangement.agreed", tenancy.reference, today, agreed_on=today.isoformat(), months=12)
    outcome = await partner_systems.deliver("woonfriesland", agreed)

    assert outcome["status"] == "processed", outcome
    assert outcome["outcome"] == {"case_id": case_id, "case_api_status": 201, "effect": "support_started"}
    async with case_api_app.caseworker() as caseworker:
        [support] = (await caseworker.get(f"/v1/cases/{case_id}/support")).json()["items"]
        case = (await caseworker.get(f"/v1/cases/{case_id}")).json()
    assert (support["kind"], support["started_on"], support["active"]) == (
        "payment_arrangement",
        today.isoformat(),
        True,
    )
    assert case["stage"] == "in_support"

    # A second arrangement while the first runs: case-api refuses, and the partner reads why.
    again = message("payment-arrangement.agreed", tenancy.reference, today, agreed_on=today.isoformat())
    refused = await partner_systems.deliver("woonfriesland", again)
    assert refused["status"] == "rejected", refused
    assert (refused["outcome"]["case_api_status"], refused["outcome"]["error"]) == (409, "refused_by_case")
    assert refused["outcome"]["problem"]["field"] == "kind"
    assert "already active" in refused["outcome"]["problem"]["detail"]


async def test_a_corporations_message_for_an_unknown_tenancy_fails_naming_the_reference(
    partner_systems: Any, partner_messages: Any, today: date
) -> None:
    agreed = message("payment-arrangement.agreed", "HUUR-UNKNOWN-1", today, agreed_on=today.isoformat())
    outcome = await partner_systems.deliver("woonfriesland", agreed)

    assert outcome["status"] == "failed"
    assert outcome["outcome"]["error"] == "unknown_reference"
    assert outcome["outcome"]["case_id"] is None
    assert "HUUR-UNKNOWN-1" in outcome["outcome"]["detail"]
    assert "arrears.reported" in outcome["outcome"]["detail"]


async def test_a_step_the_process_forbids_is_rejected_with_the_allowed_actions(
    partner_systems: Any, case_api_app: Any, partner_messages: Any, today: date
) -> None:
    tenancy = Tenancy(today)
    case_id = await open_case(partner_systems, partner_messages, tenancy)
    async with case_api_app.caseworker() as caseworker:
        closed = await caseworker.post(f"/v1/cases/{case_id}/close", json={"outcome_code": "no_help_wanted"})
        assert closed.status_code == 200, closed.text

    agreed = message("payment-arrangement.agreed", tenancy.reference, today, agreed_on=today.isoformat())
    outcome = await partner_systems.deliver("woonfriesland", agreed)

    assert outcome["status"] == "rejected", outcome
    assert outcome["outcome"]["case_id"] == case_id
    problem = outcome["outcome"]["problem"]
    assert problem["field"] == "stage"
    assert "closed" in problem["detail"]
    assert "allowed_actions" in problem


async def test_an_arrangement_agreed_in_the_future_is_rejected_naming_the_field(
    partner_systems: Any, partner_messages: Any, today: date
) -> None:
    tenancy = Tenancy(today)
    await open_case(partner_systems, partner_messages, tenancy)
    tomorrow = (today + timedelta(days=1)).isoformat()
    outcome = await partner_systems.deliver(
        "woonfriesland", message("payment-arrangement.agreed", tenancy.reference, today, agreed_on=tomorrow)
    )
    assert outcome["status"] == "rejected", outcome
    assert outcome["outcome"]["problem"]["field"] == "data.agreed_on"
    assert outcome["outcome"]["problem"]["case_api_field"] == "started_on"


async def test_an_eviction_requested_starts_the_legal_track_with_r5s_first_contact(
    partner_systems: Any, case_api_app: Any, partner_messages: Any, today: date
) -> None:
    tenancy = Tenancy(today)
    case_id = await open_case(partner_systems, partner_messages, tenancy)

    requested = message("eviction.requested", tenancy.reference, today, requested_on=today.isoformat())
    outcome = await partner_systems.deliver("woonfriesland", requested)

    assert outcome["status"] == "processed", outcome
    assert outcome["outcome"] == {"case_id": case_id, "case_api_status": 201, "effect": "legal_track_started"}
    async with case_api_app.caseworker() as caseworker:
        case = (await caseworker.get(f"/v1/cases/{case_id}")).json()
        [step] = (await caseworker.get(f"/v1/cases/{case_id}/legal-steps")).json()
        tasks = (await caseworker.get(f"/v1/cases/{case_id}/tasks")).json()
    assert case["stage"] == "eviction_threatened"
    assert (step["kind"], step["occurred_on"], step["court_reference"]) == (
        "eviction_requested",
        today.isoformat(),
        None,
    )
    # R5: the threat makes the first contact due within 3 working days, beside R4's 5.
    open_first_contacts = {
        task["rule"] for task in tasks if task["kind"] == "first_contact" and task["status"] == "open"
    }
    assert open_first_contacts == {"R4", "R5"}


async def test_arrears_cleared_resolve_the_tenancys_signal_and_close_a_case_nobody_worked_on_yet(
    partner_systems: Any, case_api_app: Any, partner_messages: Any, today: date
) -> None:
    tenancy = Tenancy(today)
    case_id = await open_case(partner_systems, partner_messages, tenancy)

    cleared = message("arrears.cleared", tenancy.reference, today, cleared_on=today.isoformat())
    outcome = await partner_systems.deliver("woonfriesland", cleared)

    assert outcome["status"] == "processed", outcome
    assert outcome["outcome"] == {"case_id": case_id, "case_api_status": 200, "effect": "signal_resolved"}
    async with case_api_app.caseworker() as caseworker:
        case = (await caseworker.get(f"/v1/cases/{case_id}")).json()
    [signal] = case["signals"]
    assert (signal["partner_reference"], signal["resolved_on"], signal["resolution"]) == (
        tenancy.reference,
        today.isoformat(),
        "arrears_cleared",
    )
    assert (case["stage"], case["outcome_code"]) == ("closed", "paid_or_arranged_by_themselves")

    # Reported again: nothing stands any more, and the partner reads why.
    again = await partner_systems.deliver("woonfriesland", cleared)
    assert again["status"] == "rejected", again
    assert again["outcome"]["problem"]["field"] == "reference"  # the partner's own field
    assert "already" in again["outcome"]["problem"]["detail"]


async def test_arrears_cleared_in_a_case_under_way_leave_the_caseworker_a_task(
    partner_systems: Any, case_api_app: Any, partner_messages: Any, today: date
) -> None:
    tenancy = Tenancy(today)
    case_id = await open_case(partner_systems, partner_messages, tenancy)
    async with case_api_app.caseworker() as caseworker:
        contact = {"channel": "phone", "reached": True}
        assert (await caseworker.post(f"/v1/cases/{case_id}/contact-attempts", json=contact)).status_code == 201

    cleared = message("arrears.cleared", tenancy.reference, today, cleared_on=today.isoformat())
    outcome = await partner_systems.deliver("woonfriesland", cleared)

    assert outcome["status"] == "processed", outcome
    async with case_api_app.caseworker() as caseworker:
        case = (await caseworker.get(f"/v1/cases/{case_id}")).json()
        tasks = (await caseworker.get(f"/v1/cases/{case_id}/tasks")).json()
    assert case["stage"] == "outreach"
    assert [(task["kind"], task["assignee_role"], task["status"]) for task in tasks] == [
        ("arrears_cleared", "outreach_worker", "open")
    ]


async def test_a_second_chance_agreement_offered_is_recorded_and_signed_averts_the_eviction(
    partner_systems: Any, case_api_app: Any, partner_messages: Any, today: date
) -> None:
    tenancy = Tenancy(today)
    case_id = await open_case(partner_systems, partner_messages, tenancy)
    requested = message("eviction.requested", tenancy.reference, today, requested_on=today.isoformat())
    assert (await partner_systems.deliver("woonfriesland", requested))["status"] == "processed"

    offered = message("second-chance-agreement.offered", tenancy.reference, today, offered_on=today.isoformat())
    outcome = await partner_systems.deliver("woonfriesland", offered)
    assert outcome["status"] == "processed", outcome
    assert outcome["outcome"] == {
        "case_id": case_id,
        "case_api_status": 201,
        "effect": "second_chance_agreement_offered",
    }
    async with case_api_app.caseworker() as caseworker:
        assert (await caseworker.get(f"/v1/cases/{case_id}")).json()["stage"] == "eviction_threatened"

    signed = message(
        "second-chance-agreement.offered",
        tenancy.reference,
        today,
        offered_on=today.isoformat(),
        signed_on=today.isoformat(),
    )
    outcome = await partner_systems.deliver("woonfriesland", signed)
    assert outcome["status"] == "processed", outcome
    assert outcome["outcome"]["effect"] == "second_chance_agreement_signed"
    async with case_api_app.caseworker() as caseworker:
        case = (await caseworker.get(f"/v1/cases/{case_id}")).json()
        [agreement] = (await caseworker.get(f"/v1/cases/{case_id}/second-chance-agreements")).json()
    assert case["stage"] == "averted"
    assert (agreement["offered_on"], agreement["signed_on"], agreement["partner_id"]) == (
        today.isoformat(),
        today.isoformat(),
        "woonfriesland",
    )

    # Signed twice: refused, and the partner reads which of its fields.
    refused = await partner_systems.deliver("woonfriesland", signed)
    assert refused["status"] == "rejected", refused
    assert refused["outcome"]["problem"]["field"] == "data.signed_on"
    assert "already" in refused["outcome"]["problem"]["detail"]


async def referral_to_mee_noord(partner_systems: Any, case_api_app: Any, case_id: str) -> str:
    """The household accepts OCO with its consent; the gateway fans case-api's oco.accepted out to MEE Noord's
    subscription (as its consumer does), which queues the referral and maps its reference. The reference."""
    async with case_api_app.caseworker() as caseworker:
        offer = await caseworker.post(
            f"/v1/cases/{case_id}/oco-offers", json={"moment": "threat_started", "channels": ["letter", "sms"]}
        )
        assert offer.status_code == 201, offer.text
        consent = {"given_by": "the tenant", "method": "phone", "purpose": "referral to MEE Noord"}
        answered = await caseworker.post(
            f"/v1/cases/{case_id}/oco-offers/{offer.json()['id']}/answer",
            json={"answer": "accepted", "consent": consent},
        )
        assert answered.status_code == 200, answered.text
    subscribed = await partner_systems.client.post(
        "/v1/partners/mee-noord/subscriptions",
        json={"event_types": ["oco.accepted"], "callback_url": "http://127.0.0.1:9/mee"},
    )
    assert subscribed.status_code in (201, 409), subscribed.text
    engine = make_engine(case_api_app.database_url)
    try:
        async with engine.connect() as connection:
            [payload] = (
                await connection.execute(
                    select(CaseApiOutbox.payload).where(
                        CaseApiOutbox.key == case_id, CaseApiOutbox.event_type == event_type("oco.accepted")
                    )
                )
            ).scalars()
    finally:
        await engine.dispose()
    async with partner_systems.app.state.session_factory() as session, session.begin():
        [delivery] = await fan_out(session, event=CloudEvent.from_json_bytes(payload), clock=partner_systems.clock)
    reference: str = json.loads(delivery.payload)["data"]["consent_id"]
    assert reference == answered.json()["consent_id"]
    return reference


async def test_mee_noords_referral_lifecycle_is_recorded_on_the_cases_referral(
    partner_systems: Any, case_api_app: Any, partner_messages: Any, today: date
) -> None:
    tenancy = Tenancy(today)
    case_id = await open_case(partner_systems, partner_messages, tenancy)
    requested = message("eviction.requested", tenancy.reference, today, requested_on=today.isoformat())
    assert (await partner_systems.deliver("woonfriesland", requested))["status"] == "processed"
    reference = await referral_to_mee_noord(partner_systems, case_api_app, case_id)
    on = today.isoformat()

    lifecycle = [
        (message("referral.accepted", reference, today, accepted_on=on), "referral_accepted", "accepted"),
        (
            message("contact.made", reference, today, contacted_on=on, channel="visit"),
            "referral_contact_made",
            "in_contact",
        ),
        (
            message("support.started", reference, today, started_on=on, kind="budget_management"),
            "referral_support_started",
            "in_support",
        ),
        (message("support.ended", reference, today, ended_on=on), "referral_support_ended", "support_ended"),
    ]
    for sent, effect, status in lifecycle:
        outcome = await partner_systems.deliver("mee-noord", sent)
        assert outcome["status"] == "processed", outcome
        assert outcome["outcome"] == {"case_id": case_id, "case_api_status": 201, "effect": effect}
        async with case_api_app.caseworker() as caseworker:
            [referral] = (await caseworker.get(f"/v1/cases/{case_id}/oco-referrals")).json()
        assert (referral["reference"], referral["status"]) == (reference, status)

    async with case_api_app.caseworker() as caseworker:
        [support] = (await caseworker.get(f"/v1/cases/{case_id}/support")).json()["items"]
    assert (support["kind"], support["started_on"], support["ended_on"]) == ("budget_management", on, on)

    # A step the referral's process forbids: rejected, naming the steps it allows (none: it is over).
    declined = await partner_systems.deliver(
        "mee-noord", message("referral.declined", reference, today, declined_on=on)
    )
    assert declined["status"] == "rejected", declined
    assert declined["outcome"]["error"] == "refused_by_case"
    problem = declined["outcome"]["problem"]
    assert (problem["field"], problem["allowed_steps"]) == ("kind", [])
    assert "support_ended" in problem["detail"]


async def test_mee_noords_message_about_an_unknown_referral_fails_naming_the_reference(
    partner_systems: Any, today: date
) -> None:
    unknown = message("referral.accepted", "REF-NOT-SENT", today, accepted_on=today.isoformat())
    outcome = await partner_systems.deliver("mee-noord", unknown)

    assert outcome["status"] == "failed", outcome
    assert outcome["outcome"]["error"] == "unknown_reference"
    assert "REF-NOT-SENT" in outcome["outcome"]["detail"]
    assert "data.reference" in outcome["outcome"]["detail"]


async def test_a_step_before_its_time_is_rejected_with_the_steps_the_referral_allows(
    partner_systems: Any, case_api_app: Any, partner_messages: Any, today: date
) -> None:
    tenancy = Tenancy(today)
    case_id = await open_case(partner_systems, partner_messages, tenancy)
    requested = message("eviction.requested", tenancy.reference, today, requested_on=today.isoformat())
    assert (await partner_systems.deliver("woonfriesland", requested))["status"] == "processed"
    reference = await referral_to_mee_noord(partner_systems, case_api_app, case_id)

    early = message("support.started", reference, today, started_on=today.isoformat(), kind="debt_counselling")
    outcome = await partner_systems.deliver("mee-noord", early)

    assert outcome["status"] == "rejected", outcome
    assert outcome["outcome"]["problem"]["allowed_steps"] == ["accepted", "declined"]
    tomorrow = (today + timedelta(days=1)).isoformat()
    future = await partner_systems.deliver(
        "mee-noord", message("referral.accepted", reference, today, accepted_on=tomorrow)
    )
    assert future["status"] == "rejected", future
    assert future["outcome"]["problem"]["field"] == "data.accepted_on"
