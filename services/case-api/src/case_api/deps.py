"""Request dependencies of case-api: the Context every endpoint hands to its service."""

from typing import Annotated

from fastapi import Depends, Header, Request

from case_api.context import Context
from case_api.db import SessionDep
from case_api.idempotency.service import idempotency_key
from service_kit.auth import Principal, Role, require_roles
from service_kit.errors import Unprocessable
from service_kit.tracing import current_traceparent

TRACEPARENT = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
INVALID_TRACE_PARTS = ("0" * 32, "0" * 16)


def checked_traceparent(
    traceparent: Annotated[str | None, Header(pattern=TRACEPARENT)] = None,
) -> str | None:
    """W3C trace context: version ff and all-zero trace or parent ids are invalid (the envelope refuses them)."""
    if traceparent is None:
        return None
    version, trace_id, parent_id, _flags = traceparent.split("-")
    if version == "ff" or trace_id in INVALID_TRACE_PARTS or parent_id in INVALID_TRACE_PARTS:
        raise Unprocessable(
            "an all-zero trace or parent id, or version ff, is not a valid traceparent", field="traceparent"
        )
    return traceparent


Traceparent = Annotated[str | None, Depends(checked_traceparent)]

# Who works with individual cases. A policy analyst reads aggregates only and never reaches these.
CASE_ROLES = (Role.outreach_worker, Role.debt_counsellor, Role.team_lead, Role.admin, Role.partner_gateway)
CaseWorker = Annotated[Principal, Depends(require_roles(*CASE_ROLES))]
# Staff only: what no partner tells (a household's maintenance), never the partner gateway's service account.
STAFF_ROLES = tuple(role for role in CASE_ROLES if role is not Role.partner_gateway)
StaffWorker = Annotated[Principal, Depends(require_roles(*STAFF_ROLES))]

# The operations the partner gateway's service account calls: forwarding partners' messages (the gateway's
# inbound/forwarding.py), reading a referral to MEE Noord when it sends one, reading the case's contact person when
# it sends a bailiff's webhook, and the signal partners' feedback.
# Exactly these endpoints take PartnerCaseContext (tests/test_partner_gateway_operations.py keeps the list, the
# endpoints and the gateway's calls the same); the role is meant to reach nothing else.
PARTNER_GATEWAY_OPERATIONS: frozenset[tuple[str, str]] = frozenset(
    {
        ("POST", "/v1/signals"),
        ("POST", "/v1/cases/{case_id}/legal-steps"),
        ("POST", "/v1/cases/{case_id}/eviction/schedule"),
        ("POST", "/v1/cases/{case_id}/eviction/postpone"),
        ("POST", "/v1/cases/{case_id}/eviction/cancel"),
        ("POST", "/v1/cases/{case_id}/eviction/execute"),
        ("POST", "/v1/cases/{case_id}/support"),
        ("POST", "/v1/cases/{case_id}/signals/arrears-cleared"),
        ("POST", "/v1/cases/{case_id}/second-chance-agreements"),
        ("POST", "/v1/cases/{case_id}/oco-referrals/{reference}/steps"),
        ("GET", "/v1/cases/{case_id}/oco-referral"),
        ("GET", "/v1/cases/{case_id}/contact-person"),
        ("GET", "/v1/partner-feedback/signals"),
    }
)


# The notifier's service account reaches only what informing a household needs (and admins, who answer for it).
NOTIFIER_ROLES = (Role.notifier, Role.admin)
NotifierCaller = Annotated[Principal, Depends(require_roles(*NOTIFIER_ROLES))]


def _context(request: Request, session: SessionDep, principal: Principal, traceparent: str | None) -> Context:
    return Context(
        session=session,
        settings=request.app.state.settings,
        clock=request.app.state.clock,
        principal=principal,
        # The caller's traceparent, else the one of the request's span (service_kit.metrics middleware): every
        # event carries a trace.
        traceparent=traceparent or current_traceparent(),
    )


async def case_context(
    request: Request,
    session: SessionDep,
    principal: CaseWorker,
    _idempotency: Annotated[None, Depends(idempotency_key)],  # every write accepts Idempotency-Key
    traceparent: Traceparent,
) -> Context:
    return _context(request, session, principal, traceparent)


async def staff_context(
    request: Request,
    session: SessionDep,
    principal: StaffWorker,
    _idempotency: Annotated[None, Depends(idempotency_key)],
    traceparent: Traceparent,
) -> Context:
    return _context(request, session, principal, traceparent)


async def notifier_context(
    request: Request,
    session: SessionDep,
    principal: NotifierCaller,
    _idempotency: Annotated[None, Depends(idempotency_key)],
    traceparent: Traceparent,
) -> Context:
    return _context(request, session, principal, traceparent)


async def partner_case_context(
    request: Request,
    session: SessionDep,
    principal: CaseWorker,
    _idempotency: Annotated[None, Depends(idempotency_key)],
    traceparent: Traceparent,
) -> Context:
    """The context of an operation of PARTNER_GATEWAY_OPERATIONS: staff and the partner gateway."""
    return _context(request, session, principal, traceparent)


CaseContext = Annotated[Context, Depends(case_context)]
PartnerCaseContext = Annotated[Context, Depends(partner_case_context)]
StaffContext = Annotated[Context, Depends(staff_context)]
NotifierContext = Annotated[Context, Depends(notifier_context)]
