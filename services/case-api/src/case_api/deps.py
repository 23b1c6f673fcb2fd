"""Request dependencies of case-api: the Context every endpoint hands to its service."""

from collections.abc import Awaitable, Callable
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

# Who may call an operation is a declared property of its route: the context it takes (below) carries a RoleGate
# (service_kit.auth.require_roles), and service_kit.auth.allowed_roles reads it back. docs/roles.md is generated
# from those declarations (python -m ep_ops.roles, part of make docs; tests/test_role_table.py keeps it current)
# and tests/test_role_walk.py calls every operation with a token of every role. No endpoint or service checks a
# caller's role on its own (a rule may still ask for one, as R13's override asks for a team lead).

# Who works with individual cases: staff. A policy analyst reads aggregates only and never reaches these; the
# service accounts reach only the operations their messages need (PARTNER_CASE_ROLES, GATEWAY_ROLES,
# NOTIFIER_ROLES), never a case's names and addresses through GET /v1/cases or GET /v1/cases/{id}.
CASE_ROLES = (Role.outreach_worker, Role.debt_counsellor, Role.team_lead, Role.admin)
STAFF_ROLES = CASE_ROLES
# What a partner tells the platform: staff record it by hand, the partner gateway forwards partners' messages.
PARTNER_CASE_ROLES = (*CASE_ROLES, Role.partner_gateway)
# What only the partner gateway reads, when it sends a partner something.
GATEWAY_ROLES = (Role.partner_gateway,)
# The notifier's service account reaches only what informing a household needs (and admins, who answer for it).
NOTIFIER_ROLES = (Role.notifier, Role.admin)
# The processing log (R17): admins, who answer for it to the data protection officer.
ADMIN_ROLES = (Role.admin,)

CaseWorker = Annotated[Principal, Depends(require_roles(*CASE_ROLES))]
StaffWorker = CaseWorker

# The operations the partner gateway's service account calls: forwarding partners' messages (the gateway's
# inbound/forwarding.py), reading a referral to MEE Noord when it sends one, reading the case's contact person when
# it sends a bailiff's webhook, and the signal partners' feedback (R3). tests/test_role_walk.py checks that
# exactly these operations let the role through, and the gateway's tests that its calls are among them.
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
# The notifier's calls (notifier/case_api.py): the household's contact details at send time, and a task.
NOTIFIER_OPERATIONS: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/v1/cases/{case_id}/notification-contact"),
        ("POST", "/v1/cases/{case_id}/tasks"),
    }
)


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


def context_for(*roles: Role) -> Callable[..., Awaitable[Context]]:
    """The request's Context for an operation that callers holding any of `roles` may call."""
    gate = require_roles(*roles)

    async def context(
        request: Request,
        session: SessionDep,
        principal: Annotated[Principal, Depends(gate)],
        _idempotency: Annotated[None, Depends(idempotency_key)],  # every write accepts Idempotency-Key
        traceparent: Traceparent,
    ) -> Context:
        return _context(request, session, principal, traceparent)

    return context


case_context = context_for(*CASE_ROLES)
partner_case_context = context_for(*PARTNER_CASE_ROLES)
gateway_context = context_for(*GATEWAY_ROLES)
notifier_context = context_for(*NOTIFIER_ROLES)
admin_context = context_for(*ADMIN_ROLES)

# Staff's work on a case.
CaseContext = Annotated[Context, Depends(case_context)]
StaffContext = CaseContext
# What partners tell: staff and the partner gateway (PARTNER_GATEWAY_OPERATIONS but the gateway-only reads).
PartnerCaseContext = Annotated[Context, Depends(partner_case_context)]
# Read by the partner gateway only, when it sends a partner something.
GatewayContext = Annotated[Context, Depends(gateway_context)]
NotifierContext = Annotated[Context, Depends(notifier_context)]
AdminContext = Annotated[Context, Depends(admin_context)]
