"""The notifier's client of case-api: the household's contact details at send time, and caseworker tasks.

Called with the notifier's service token (role notifier), read from `case_api_token_file` at every call
(service_kit.service_client): the deployment's client-credentials sidecar, or the local stack, keeps the file
fresh. case-api writes every read of a household in its processing log (R17); the notifier keeps what it read
only as long as delivery needs it.

Errors say what the caller should do. `CaseApiUnavailable`: case-api could not be asked or could not answer
now (network, timeout, no token, a refused token, 429, 5xx); keep the notification and try again later.
`CaseApiRefused`: case-api answered that this request will never succeed (a closed or erased case, a broken
request); retrying does not help.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import httpx

from notifier.config import Settings
from notifier.templating.context import Household
from service_kit.service_client import ServiceAnswer, ServiceClient, ServiceUnavailable, TokenFile

# Answers after which the same request may succeed later: a token being renewed, rate limits, a restart.
RETRY_LATER = frozenset({401, 403, 408, 425, 429})


class CaseApiUnavailable(ServiceUnavailable):
    """case-api could not be asked or could not answer now: the notification waits and is tried again."""


class CaseApiRefused(Exception):
    """case-api refused the request for good (its problem details in `problem`): retrying does not help."""

    def __init__(self, status_code: int, problem: Any) -> None:
        detail = problem.get("detail") if isinstance(problem, dict) else None
        super().__init__(f"case-api answered {status_code}: {detail or problem}")
        self.status_code = status_code
        self.problem = problem


class CaseApi(ServiceClient):
    """case-api's REST API under /v1, as the notifier uses it."""

    unavailable = CaseApiUnavailable

    async def notification_contact(self, case_id: str) -> dict[str, Any] | None:
        """GET /v1/cases/{case_id}/notification-contact; None for an unknown (404) or erased (410) case."""
        answer = await self.request("GET", f"/v1/cases/{case_id}/notification-contact")
        if answer.status_code in (404, 410):
            return None
        if answer.status_code != 200 or not isinstance(answer.body, dict):
            raise CaseApiUnavailable(_describe("reading the household of case", case_id, answer))
        return answer.body

    async def create_task(self, case_id: str, *, kind: str, notification_id: str, moment: str, reason: str) -> str:
        """POST /v1/cases/{case_id}/tasks: a caseworker visits (`home_visit`) or calls (`call`) the household,
        one task per notification: a repeat answers the task made first. The task's id."""
        body = {"kind": kind, "notification_id": notification_id, "moment": moment, "reason": reason}
        # The Idempotency-Key gets a retry after a lost answer the first answer, without a second write.
        headers = {"idempotency-key": f"notification-task-{notification_id}"}
        answer = await self.request("POST", f"/v1/cases/{case_id}/tasks", json=body, headers=headers)
        if answer.status_code in (200, 201) and isinstance(answer.body, dict) and answer.body.get("id"):
            return str(answer.body["id"])
        if answer.status_code in RETRY_LATER or answer.status_code >= 500 or answer.ok:
            raise CaseApiUnavailable(_describe("creating a task on case", case_id, answer))
        raise CaseApiRefused(answer.status_code, answer.body)


class CaseApiContacts:
    """The dispatcher's ContactLookup in live mode: the household as case-api knows it at send time."""

    def __init__(self, case_api: CaseApi) -> None:
        self._case_api = case_api

    async def household(self, case_id: str) -> Household | None:
        """None for a case case-api does not know or whose personal data is erased; CaseApiUnavailable when
        case-api cannot answer now."""
        contact = await self._case_api.notification_contact(case_id)
        if contact is None:
            return None
        try:
            return household_of(contact)
        except (KeyError, TypeError, ValueError) as error:
            # An answer that breaks the contract is case-api's bug, fixed by a deployment: try again later.
            message = f"case-api's notification contact of case {case_id} is malformed: {error!r}"
            raise CaseApiUnavailable(message) from None


def household_of(contact: dict[str, Any]) -> Household:
    """The Household a template renders from, out of case-api's NotificationContact."""
    return Household(
        first_name=str(contact["first_name"]),
        full_name=str(contact["full_name"]),
        address_lines=tuple(str(line) for line in contact["address_lines"]),
        email=contact.get("email"),
        mobile=contact.get("mobile"),
        mail_address_lines=tuple(str(line) for line in contact.get("mail_address_lines") or ()),
        preferred_channel=contact.get("preferred_channel"),
        language=str(contact.get("language") or "nl"),
        evicted=bool(contact.get("evicted", False)),
        team=contact.get("team"),
        eviction_date=_date(contact.get("eviction_date")),
        storage_place=contact.get("storage_place"),
        storage_reference=contact.get("storage_reference"),
        retention_end=_date(contact.get("retention_end")),
        housing_address=contact.get("housing_address"),
        objection_end=_date(contact.get("objection_end")),
        offer_oco=bool(contact.get("offer_oco", True)),
    )


def _date(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(str(value))


def _describe(what: str, case_id: str, answer: ServiceAnswer) -> str:
    detail = answer.body.get("detail") if isinstance(answer.body, dict) else None
    return f"{what} {case_id}: case-api answered {answer.status_code}" + (f" ({detail})" if detail else "")


@asynccontextmanager
async def open_case_api(settings: Settings) -> AsyncIterator[CaseApi]:
    """The client of the configured case-api (NOTIFIER_CASE_API_URL, _TOKEN_FILE, _TIMEOUT_SECONDS), open while
    the context lasts: `async with open_case_api(settings) as case_api: contacts = CaseApiContacts(case_api)`."""
    async with httpx.AsyncClient(base_url=settings.case_api_url, timeout=settings.case_api_timeout_seconds) as http:
        yield CaseApi(http, TokenFile(settings.case_api_token_file))
