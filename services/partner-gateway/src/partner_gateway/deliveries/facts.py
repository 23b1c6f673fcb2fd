"""The current facts of a case that corporations, bailiffs and utilities may know (ADR 0011).

The consumer folds every case event into one `Facts` per case (`apply`, a pure function) and keeps it in
`case_facts`. A partner that sees its own cases only is linked to a case by its first message about it
(reference_map); from then on it receives the case's events, and at that moment it receives one snapshot of these
facts (deliveries/minimisation.py: SNAPSHOT), instead of the history it was not linked for.

Only what some partner kind may be told is kept, already minimised: whether the household has minors, the open
supports with the arrangement each is (payment or debt arrangement, or none: never the other kinds), whether the
case was picked up (never the outcome code), the open requests to postpone and to offer a second-chance
agreement (ids, dates and the grounds category), and which kind of contact person was assigned (never who). No
name, address, amount or free text: the facts live in the gateway's database next to the deliveries.

`lock` reads a case's row for update, creating it when missing, so that the consumer applying an event and the
inbound worker linking a partner to the same case take turns: whichever comes second sees the other's work (the
linked partner gets the event, or the snapshot holds the fact), and nothing falls between the two.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from eviction_schemas.envelope import CloudEvent
from partner_gateway.deliveries.models import CaseFactsRow

EVENT_TYPE_PREFIX = "nl.eviction-prevention."

# case.closed outcome codes that say the signal was not picked up (the national vroegsignalering vocabulary).
NOT_PICKED_UP = frozenset(
    {"not_picked_up_repeat_signal", "not_picked_up_unjustified_signal", "not_picked_up_other_reason"}
)
# Support kinds a corporation may learn of (contract.md: "payment or debt arrangement active").
ARRANGEMENTS = frozenset({"payment_arrangement", "debt_arrangement"})


def picked_up_of(outcome: str) -> bool:
    """Whether a case closed with `outcome` was picked up; never which outcome, so never why not (R3)."""
    return outcome not in NOT_PICKED_UP


def arrangement_of(kind: str) -> str | None:
    """payment_arrangement or debt_arrangement; None for any other kind of support."""
    return kind if kind in ARRANGEMENTS else None


@dataclass(frozen=True)
class Facts:
    """What corporations, bailiffs and utilities may know of one case now, as the case's events told it."""

    has_minors: bool | None = None  # case.opened, household.updated
    # Open supports: support id -> payment_arrangement, debt_arrangement or None (any other kind of support).
    supports: Mapping[str, str | None] = field(default_factory=dict)
    picked_up: bool | None = None  # case.closed
    # The open request to postpone: request_id, requested_on, eviction_date, grounds_category, recipients.
    postponement_request: Mapping[str, Any] | None = None
    # The open request to offer a second-chance agreement: request_id, requested_on.
    second_chance_request: Mapping[str, Any] | None = None
    contact_person_kind: str | None = None  # contact-person.assigned: caseworker or team (who is read at send time)

    @property
    def in_support(self) -> bool:
        return bool(self.supports)

    @property
    def active_arrangements(self) -> list[str]:
        return sorted({kind for kind in self.supports.values() if kind is not None})

    def to_json(self) -> dict[str, Any]:
        return {
            "has_minors": self.has_minors,
            "supports": dict(self.supports),
            "picked_up": self.picked_up,
            "postponement_request": dict(self.postponement_request) if self.postponement_request else None,
            "second_chance_request": dict(self.second_chance_request) if self.second_chance_request else None,
            "contact_person_kind": self.contact_person_kind,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any] | None) -> "Facts":
        value = value or {}
        return cls(
            has_minors=value.get("has_minors"),
            supports=dict(value.get("supports") or {}),
            picked_up=value.get("picked_up"),
            postponement_request=value.get("postponement_request"),
            second_chance_request=value.get("second_chance_request"),
            contact_person_kind=value.get("contact_person_kind"),
        )


def apply(facts: Facts, event: CloudEvent) -> Facts:
    """The facts after `event`; events that tell partners nothing leave them as they are."""
    name = event.type.removeprefix(EVENT_TYPE_PREFIX)
    data = event.data
    if name in ("case.opened", "household.updated"):
        return replace(facts, has_minors=bool(data["has_minors"]))
    if name == "support.started":
        return replace(facts, supports={**facts.supports, data["support_id"]: arrangement_of(data["kind"])})
    if name == "support.ended":
        return replace(facts, supports={key: kind for key, kind in facts.supports.items() if key != data["support_id"]})
    if name == "postponement.requested":
        request = {
            "request_id": data["request_id"],
            "requested_on": data["requested_on"],
            "eviction_date": data["eviction_date"],
            "grounds_category": data["grounds_category"],
            "recipients": sorted(data["recipients"]),
        }
        return replace(facts, postponement_request=request)
    if name == "second-chance.requested":
        return replace(
            facts, second_chance_request={"request_id": data["request_id"], "requested_on": data["requested_on"]}
        )
    if name == "second-chance-agreement.offered":
        # The corporation offered one: the request to offer a second-chance agreement was answered.
        return replace(facts, second_chance_request=None)
    if name == "contact-person.assigned":
        return replace(facts, contact_person_kind=data["contact_kind"])
    if name == "eviction.postponed":
        # The date moved: the request to postpone was answered.
        return replace(facts, postponement_request=None)
    if name in ("eviction.cancelled", "eviction.executed"):
        return replace(facts, postponement_request=None, second_chance_request=None)
    if name == "case.closed":
        return replace(
            facts, picked_up=picked_up_of(data["outcome"]), postponement_request=None, second_chance_request=None
        )
    return facts


async def lock(session: AsyncSession, *, case_id: str, now: datetime) -> CaseFactsRow:
    """The case's facts row, locked for this transaction (created empty, sequence 0, when missing)."""
    values = {"case_id": case_id, "sequence": 0, "facts": Facts().to_json(), "updated_at": now}
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(CaseFactsRow).values(**values).on_conflict_do_nothing(index_elements=["case_id"]))
    query = (
        select(CaseFactsRow)
        .where(CaseFactsRow.case_id == case_id)
        .with_for_update()  # SQLite has one writer at a time and no row locks: SQLAlchemy leaves it out there
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(query)).one()


def record(row: CaseFactsRow, *, event: CloudEvent, facts: Facts, now: datetime) -> None:
    """Store `facts` as the case's facts after `event`; an event older than the row (a replay of a dead letter)
    never rolls the facts back."""
    if event.sequence_number <= row.sequence:
        return
    row.sequence = event.sequence_number
    row.facts = facts.to_json()
    row.updated_at = now
