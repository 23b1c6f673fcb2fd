"""Every partner message changes the case, or ends `failed`/`rejected` with a reason the partner reads.

Partners' signed messages go through the gateway's app; the inbound worker forwards them over HTTP, with the
gateway's service token, to case-api's app (in this process, on its own PostgreSQL database); the effect is read
back from case-api as a caseworker would. Households, names and references are made up.
"""

import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from case_api.deps import PARTNER_GATEWAY_OPERATIONS
from partner_gateway.inbound.forwarding import PLANNERS, ROUTES
from partner_gateway.inbound.types import ALL_MESSAGE_TYPES
from service_kit.clock import FixedClock

pytestmark = [pytest.mark.postgres]


def test_every_message_type_has_a_planning_function_and_every_route_is_a_gateway_operation_of_case_api() -> None:
    assert set(PLANNERS) == ALL_MESSAGE_TYPES
    assert {("POST", route) for route in ROUTES.values()} <= PARTNER_GATEWAY_OPERATIONS


def message(kind: str, reference: str, today: date, **data: Any) -> dict[str, Any]:
    return {"type": kind, "reference": reference, "occurred_at": f"{today.isoformat()}T11:00:00Z", "data": data}


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
