"""Forwarding partners' received messages to case-api (the inbound worker's half of inbound/); never commits.

Every message type has one planning function in PLANNERS: it finds the case the partner's reference maps to and
says which case-api operation takes the message, with which body (`Forward`), or that the message ends here
(`Settle`, e.g. a reference that maps to no case: `failed` with a reason the partner reads), or that it waits for
another message (`Wait`). `process_message` carries the plan out and records the outcome. What each type does
to the case is documented per type in docs/partners.md ("What each message does").
"""

import logging
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from partner_gateway.config import Settings
from partner_gateway.inbound.case_api import CaseApi, CaseApiAnswer, CaseApiUnavailable
from partner_gateway.inbound.models import InboundMessage, InboundStatus
from partner_gateway.inbound.repository import InboundRepository
from partner_gateway.inbound.validation import COMPOSITION_FIELDS
from partner_gateway.partners.models import Partner, PartnerKind
from partner_gateway.partners.repository import PartnerRepository
from service_kit.clock import Clock

log = logging.getLogger(__name__)

RETRY_BASE = timedelta(seconds=2)
# case-api answers that say "not now" rather than "not this": the message waits and is tried again.
RETRYABLE = frozenset({401, 403, 408, 425, 429})

# The case-api operations the gateway writes to (all POST), by name; case-api lists the same ones in
# case_api.deps.PARTNER_GATEWAY_OPERATIONS, the only operations its service role is meant to reach.
ROUTES: Mapping[str, str] = {
    "signal": "/v1/signals",
    "legal_step": "/v1/cases/{case_id}/legal-steps",
    "schedule_eviction": "/v1/cases/{case_id}/eviction/schedule",
    "postpone_eviction": "/v1/cases/{case_id}/eviction/postpone",
    "cancel_eviction": "/v1/cases/{case_id}/eviction/cancel",
    "execute_eviction": "/v1/cases/{case_id}/eviction/execute",
    "support": "/v1/cases/{case_id}/support",
    "arrears_cleared": "/v1/cases/{case_id}/signals/arrears-cleared",
    "second_chance_agreement": "/v1/cases/{case_id}/second-chance-agreements",
    "oco_referral_step": "/v1/cases/{case_id}/oco-referrals/{reference}/steps",
}


@dataclass(frozen=True)
class Forward:
    """A write to case-api that carries the message: `route` names one of ROUTES; `effect` tells the partner
    what it did to the case (outcome.effect); `fields` names the message's field behind a field of the body, so
    that a refusal names the field the partner sent (`started_on` of case-api is `data.agreed_on`)."""

    route: str
    body: dict[str, Any]
    case_id: str | None
    effect: str
    params: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        params = {name: urllib.parse.quote(value, safe="") for name, value in self.params.items()}
        return ROUTES[self.route].format(case_id=self.case_id, **params)


@dataclass(frozen=True)
class Settle:
    """No write to case-api: the message ends here with this status and outcome."""

    status: InboundStatus
    outcome: dict[str, Any]


@dataclass(frozen=True)
class Wait:
    """No write yet: the message waits for another one and is tried again later."""

    reason: str


Plan = Forward | Settle | Wait


@dataclass(frozen=True)
class Inbound:
    """What a planning function looks at: the message, its partner, and the gateway's database and settings."""

    session: AsyncSession
    message: InboundMessage
    partner: Partner
    settings: Settings
    now: datetime

    @property
    def data(self) -> dict[str, Any]:
        return self.message.payload


Planner = Callable[[Inbound], Awaitable[Plan]]


async def process_message(
    session: AsyncSession, *, message: InboundMessage, case_api: CaseApi, settings: Settings, clock: Clock
) -> None:
    """One attempt to forward a received message; on a passing failure the next attempt is scheduled."""
    partner = await session.get(Partner, message.partner_id)
    assert partner is not None  # the foreign key holds it
    now = clock.now()
    plan = await PLANNERS[message.type](Inbound(session, message, partner, settings, now))
    if isinstance(plan, Settle):
        _settle(message, plan.status, plan.outcome, now=now)
        return
    message.attempts += 1
    if isinstance(plan, Wait):
        _retry_later(message, now=now, error=plan.reason, settings=settings)
        return
    try:
        answer = await case_api.post(plan.path, plan.body, idempotency_key=f"partner-message-{message.id}")
    except CaseApiUnavailable as error:
        _retry_later(message, now=now, error=str(error), settings=settings)
        return
    if answer.ok:
        case_id = plan.case_id or _answer_field(answer, "case_id")
        outcome: dict[str, Any] = {"case_id": case_id, "case_api_status": answer.status_code, "effect": plan.effect}
        if message.type == "arrears.reported" and case_id:
            outcome["case_opened"] = bool(_answer_field(answer, "case_opened"))
            await InboundRepository(session).map_reference(
                partner_id=partner.id, reference=message.reference, case_id=case_id, now=now
            )
        _settle(message, InboundStatus.processed, outcome, now=now)
    elif answer.status_code in RETRYABLE or answer.status_code >= 500:
        if answer.status_code in (401, 403):
            log.error(
                "case-api refused the gateway's service token (%s); check case_api_token_file", answer.status_code
            )
        _retry_later(message, now=now, error=f"case-api answered {answer.status_code}", settings=settings)
    else:
        _settle(
            message,
            InboundStatus.rejected,
            {
                "case_id": plan.case_id,
                "case_api_status": answer.status_code,
                "error": "refused_by_case",
                "problem": _problem_of(answer, plan.fields),
            },
            now=now,
        )


# --- finding the case ---------------------------------------------------------------------------------------

WAIT_FOR_LANDLORD = "wait-for-landlord"  # a sentinel of _bailiff_case, never a case id (those are UUIDs)


def unknown_reference(inbound: Inbound, hint: str) -> Settle:
    message = inbound.message
    return Settle(
        InboundStatus.failed,
        {
            "case_id": None,
            "error": "unknown_reference",
            "detail": f"no case is known for reference {message.reference} of {inbound.partner.id}; {hint}",
        },
    )


async def _own_case(inbound: Inbound) -> str | None:
    """The case the partner's own reference maps to: a corporation's tenancy reference (its arrears message
    opened or joined the case) or MEE Noord's referral reference (the `reference` of the referral the gateway
    sent it, mapped when the referral was queued: deliveries.service.fan_out)."""
    return await InboundRepository(inbound.session).case_of(inbound.partner.id, inbound.message.reference)


async def _bailiff_case(inbound: Inbound) -> str | None:
    """The case of a bailiff's file number; the first message of a file links it through the landlord's
    tenancy reference, which the landlord's arrears signal mapped to its case."""
    session, partner, message = inbound.session, inbound.partner, inbound.message
    repository = InboundRepository(session)
    case_id = await repository.case_of(partner.id, message.reference)
    landlord = message.payload.get("landlord")
    if case_id is not None or not isinstance(landlord, dict):
        return case_id
    corporation = await PartnerRepository(session).get(landlord["partner_id"])
    if corporation is None or corporation.kind is not PartnerKind.housing_corporation:
        return None
    case_id = await repository.case_of(corporation.id, landlord["tenancy_reference"])
    if case_id is not None:
        await repository.map_reference(
            partner_id=partner.id, reference=message.reference, case_id=case_id, now=inbound.now
        )
    elif await repository.waiting(corporation.id, landlord["tenancy_reference"]):
        return WAIT_FOR_LANDLORD
    return case_id


CorporationStep = Callable[[Inbound, str], Forward]


def corporation_message(step: CorporationStep) -> Planner:
    """A corporation's message about a tenancy its arrears message mapped to a case."""

    async def plan(inbound: Inbound) -> Plan:
        case_id = await _own_case(inbound)
        if case_id is None:
            return unknown_reference(inbound, "send arrears.reported for this tenancy reference first")
        return step(inbound, case_id)

    plan.__doc__ = step.__doc__
    return plan


BailiffStep = Callable[[Inbound, str], Forward]

ReferralStep = Callable[[Inbound, str], Forward]


def referral_message(step: ReferralStep) -> Planner:
    """MEE Noord's message about a referral the gateway sent it, named by the referral's `reference`."""

    async def plan(inbound: Inbound) -> Plan:
        case_id = await _own_case(inbound)
        if case_id is None:
            return unknown_reference(
                inbound, "send the reference of the referral you received (data.reference of its webhook)"
            )
        return step(inbound, case_id)

    plan.__doc__ = step.__doc__
    return plan


def bailiff_message(step: BailiffStep) -> Planner:
    """A bailiff's message about a file number, linked to its case by the landlord's tenancy reference."""

    async def plan(inbound: Inbound) -> Plan:
        case_id = await _bailiff_case(inbound)
        if case_id is WAIT_FOR_LANDLORD:
            return Wait("the landlord's message about this tenancy is not processed yet")
        if case_id is None:
            return unknown_reference(
                inbound,
                "send the housing corporation's partner_id and tenancy_reference in data.landlord to link it",
            )
        return step(inbound, case_id)

    plan.__doc__ = step.__doc__
    return plan


# --- one planning function per message type -----------------------------------------------------------------


async def plan_arrears_reported(inbound: Inbound) -> Plan:
    """arrears.reported: the signal attaches to the household's open case or opens one (R1, R2)."""
    return Forward("signal", _signal_body(inbound), case_id=None, effect="signal_received", fields=SIGNAL_FIELDS)


def _arrears_cleared(inbound: Inbound, case_id: str) -> Forward:
    """arrears.cleared: the partner's signals of this tenancy are resolved; the case may close (ADR 0011)."""
    body = {
        "partner_id": inbound.partner.id,
        "partner_reference": inbound.message.reference,
        "cleared_on": inbound.data["cleared_on"],
    }
    fields = {"cleared_on": "data.cleared_on", "partner_reference": "reference"}
    return Forward("arrears_cleared", body, case_id, effect="signal_resolved", fields=fields)


def _payment_arrangement(inbound: Inbound, case_id: str) -> Forward:
    """payment-arrangement.agreed: support of kind payment_arrangement started on the day agreed."""
    body = {"kind": "payment_arrangement", "started_on": inbound.data["agreed_on"]}
    return Forward("support", body, case_id, effect="support_started", fields={"started_on": "data.agreed_on"})


def _eviction_requested(inbound: Inbound, case_id: str) -> Forward:
    """eviction.requested: a legal step; the legal track starts and the eviction is threatened (R5, R8)."""
    body = {"kind": "eviction_requested", "occurred_on": inbound.data["requested_on"]}
    fields = {"occurred_on": "data.requested_on"}
    return Forward("legal_step", body, case_id, effect="legal_track_started", fields=fields)


def _summons(inbound: Inbound, case_id: str) -> Forward:
    """summons.served: a legal step; the eviction is threatened (R5, R8)."""
    data = inbound.data
    body = {"kind": "summons_served", "occurred_on": data["served_on"], "court_reference": data["court_reference"]}
    if "hearing_date" in data:
        body["hearing_date"] = data["hearing_date"]
    fields = {"occurred_on": "data.served_on", "court_reference": "data.court_reference"}
    return Forward("legal_step", body, case_id, effect="legal_step_recorded", fields=fields)


def _judgment(inbound: Inbound, case_id: str) -> Forward:
    """judgment.given: a legal step; the eviction is threatened."""
    data = inbound.data
    body = {
        "kind": "judgment_given",
        "occurred_on": data["given_on"],
        "court_reference": data["court_reference"],
        "eviction_granted": data["eviction_granted"],
    }
    fields = {"occurred_on": "data.given_on", "court_reference": "data.court_reference"}
    return Forward("legal_step", body, case_id, effect="legal_step_recorded", fields=fields)


def _eviction_date(route: str, effect: str) -> BailiffStep:
    def step(inbound: Inbound, case_id: str) -> Forward:
        data = inbound.data
        body = {
            "eviction_date": data["eviction_date"],
            "served_on": data["served_on"],
            "bailiff_reference": inbound.message.reference,
        }
        fields = {"eviction_date": "data.eviction_date", "served_on": "data.served_on"}
        return Forward(route, body, case_id, effect=effect, fields=fields)

    return step


def _cancelled(inbound: Inbound, case_id: str) -> Forward:
    """eviction.cancelled: the eviction is averted with the bailiff's reason."""
    return Forward(
        "cancel_eviction", {"reason_code": inbound.data["reason_code"]}, case_id, effect="eviction_cancelled"
    )


def _executed(inbound: Inbound, case_id: str) -> Forward:
    """eviction.executed: the eviction took place (R11 guards a family with minors)."""
    return Forward(
        "execute_eviction", {"executed_on": inbound.data["executed_on"]}, case_id, effect="eviction_executed"
    )


def _second_chance(inbound: Inbound, case_id: str) -> Forward:
    """second-chance-agreement.offered: the agreement is recorded; with signed_on it is signed, which averts a
    threatened or scheduled eviction."""
    data = inbound.data
    body = {"offered_on": data["offered_on"], "partner_id": inbound.partner.id}
    effect = "second_chance_agreement_offered"
    if "signed_on" in data:
        body["signed_on"] = data["signed_on"]
        effect = "second_chance_agreement_signed"
    fields = {"offered_on": "data.offered_on", "signed_on": "data.signed_on"}
    return Forward("second_chance_agreement", body, case_id, effect=effect, fields=fields)


def _referral_step(kind: str, date_field: str, **extra: str) -> ReferralStep:
    """A step of MEE Noord's on the referral: `date_field` of the message is the step's day; `extra` maps further
    fields of case-api's body to the message's."""

    def step(inbound: Inbound, case_id: str) -> Forward:
        data = inbound.data
        body = {"kind": kind, "occurred_on": data[date_field]}
        body.update({name: data[source] for name, source in extra.items()})
        fields = {
            "occurred_on": f"data.{date_field}",
            "reference": "reference",
            **{name: f"data.{source}" for name, source in extra.items()},
        }
        return Forward(
            "oco_referral_step",
            body,
            case_id,
            effect=f"referral_{kind}",
            params={"reference": inbound.message.reference},
            fields=fields,
        )

    step.__doc__ = f"{kind}: recorded on the case's OCO referral (the referral's process decides what may follow)."
    return step


PLANNERS: Mapping[str, Planner] = {
    # housing corporation (and utility: arrears.reported only)
    "arrears.reported": plan_arrears_reported,
    "arrears.cleared": corporation_message(_arrears_cleared),
    "payment-arrangement.agreed": corporation_message(_payment_arrangement),
    "second-chance-agreement.offered": corporation_message(_second_chance),
    "eviction.requested": corporation_message(_eviction_requested),
    # bailiff
    "summons.served": bailiff_message(_summons),
    "judgment.given": bailiff_message(_judgment),
    "eviction.scheduled": bailiff_message(_eviction_date("schedule_eviction", "eviction_scheduled")),
    "eviction.postponed": bailiff_message(_eviction_date("postpone_eviction", "eviction_postponed")),
    "eviction.cancelled": bailiff_message(_cancelled),
    "eviction.executed": bailiff_message(_executed),
    # MEE Noord (client support)
    "referral.accepted": referral_message(_referral_step("accepted", "accepted_on")),
    "contact.made": referral_message(_referral_step("contact_made", "contacted_on", channel="channel")),
    "support.started": referral_message(_referral_step("support_started", "started_on", support_kind="kind")),
    "support.ended": referral_message(_referral_step("support_ended", "ended_on")),
    "referral.declined": referral_message(_referral_step("declined", "declined_on")),
}


# The message's fields behind POST /v1/signals' body (household.* and signal.*).
SIGNAL_FIELDS: Mapping[str, str] = {
    **{
        f"household.{name}": f"data.{name}"
        for name in ("street", "house_number", "house_number_suffix", "postcode", "city", "email", "mobile")
    },
    **{f"signal.{name}": f"data.{name}" for name in ("arrears_amount", "arrears_since", "signal_date", "crisis")},
    **{f"composition.{name}": f"data.{name}" for name in COMPOSITION_FIELDS},
}


def _signal_body(inbound: Inbound) -> dict[str, Any]:
    """POST /v1/signals: the household from the message's contact details (R1) and the signal."""
    data, partner = inbound.data, inbound.partner
    household: dict[str, Any] = {
        "street": data["street"],
        "house_number": data["house_number"],
        "house_number_suffix": data.get("house_number_suffix", ""),
        "postcode": data["postcode"],
        "city": data["city"],
        "members": [
            {
                "role": "tenant",
                "initials": data["initials"],
                "surname_prefix": data.get("surname_prefix", ""),
                "surname": data["surname"],
            }
        ],
    }
    for optional in ("email", "mobile"):
        if optional in data:
            household[optional] = data[optional]
    if "mobile" in data:
        household["preferred_channel"] = "sms"
    elif "email" in data:
        household["preferred_channel"] = "email"
    # A corporation's household composition: case-api counts it towards has_minors while staff have recorded no
    # members (ADR 0013). It goes to case-api only, never on Kafka nor to another partner.
    composition = {name: data[name] for name in COMPOSITION_FIELDS if data.get(name) is not None}
    return {
        "team": partner.team or inbound.settings.default_team,
        "household": household,
        **({"composition": composition} if composition else {}),
        "signal": {
            "partner_kind": partner.kind.value,
            "partner_id": partner.id,
            "partner_reference": inbound.message.reference,
            "arrears_amount": data["arrears_amount"],
            "arrears_since": data["arrears_since"],
            "signal_date": data["signal_date"],
            "crisis": data.get("crisis", False),
        },
    }


# --- recording the outcome ----------------------------------------------------------------------------------


def _answer_field(answer: CaseApiAnswer, name: str) -> Any:
    return answer.body.get(name) if isinstance(answer.body, dict) else None


# What of case-api's problem a partner reads: allowed_actions for a step the case's process forbids, allowed_steps
# for one a referral's process forbids, and the rule of spec/domain.md that refused it (e.g. R11 for an eviction of
# a family with minors without a rehousing outcome).
PROBLEM_KEYS = ("title", "detail", "field", "rule", "allowed_actions", "allowed_steps")


def _problem_of(answer: CaseApiAnswer, fields: Mapping[str, str]) -> dict[str, Any]:
    """What case-api said, as far as the partner may read it: its problem's title, detail, field (as the message
    names it), the rule that refused it, and allowed actions or steps."""
    if not isinstance(answer.body, dict):
        return {}
    problem = {key: answer.body[key] for key in PROBLEM_KEYS if key in answer.body}
    errors = answer.body.get("errors")
    if "field" not in problem and isinstance(errors, list) and errors and isinstance(errors[0], dict):
        problem["field"] = errors[0].get("field")  # a validation error: the first field it names
    if problem.get("field") in fields:
        problem["case_api_field"] = problem["field"]
        problem["field"] = fields[problem["field"]]
    return problem


def _settle(message: InboundMessage, status: InboundStatus, outcome: dict[str, Any], *, now: datetime) -> None:
    message.status = status
    message.outcome = outcome
    message.processed_at = now
    message.last_error = None


def _retry_later(message: InboundMessage, *, now: datetime, error: str, settings: Settings) -> None:
    """The message stays received; the wait doubles up to inbound_retry_max_seconds, and never ends it."""
    wait = min(RETRY_BASE * 2 ** min(message.attempts - 1, 20), timedelta(seconds=settings.inbound_retry_max_seconds))
    message.next_attempt_at = now + wait
    message.last_error = error[:500]
