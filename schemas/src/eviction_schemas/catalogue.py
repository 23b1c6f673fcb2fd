"""The catalogue of events (contract.md) and the topics they travel on; plain data, no dependencies."""

from types import MappingProxyType
from typing import Final

__all__ = [
    "CASE_EVENTS",
    "CASE_EVENTS_TOPIC",
    "EVENT_NAMES",
    "NOTIFICATION_EVENTS",
    "NOTIFICATION_EVENTS_TOPIC",
    "PARTNER_EVENTS",
    "PARTNER_EVENTS_TOPIC",
    "TOPICS",
    "TYPE_PREFIX",
    "default_topic",
    "dlq_topic",
]

TYPE_PREFIX: Final = "nl.eviction-prevention."

# Topic names are settings; these are their defaults.
CASE_EVENTS_TOPIC: Final = "eviction-prevention.case-events.v1"
NOTIFICATION_EVENTS_TOPIC: Final = "eviction-prevention.notification-events.v1"
PARTNER_EVENTS_TOPIC: Final = "eviction-prevention.partner-events.v1"
TOPICS: Final = (CASE_EVENTS_TOPIC, NOTIFICATION_EVENTS_TOPIC, PARTNER_EVENTS_TOPIC)

CASE_EVENTS: Final = (
    "case.opened",
    "signal.received",
    "contact.attempted",
    "support.started",
    "support.ended",
    "oco.offered",
    "oco.accepted",
    "oco.declined",
    "legal.summons-served",
    "legal.judgment-given",
    "eviction.scheduled",
    "eviction.postponed",
    "eviction.cancelled",
    "eviction.executed",
    "child-assessment.recorded",
    "temporary-housing.decided",
    "belongings.stored",
    "belongings.returned",
    "belongings.disposed",
    "task.created",
    "task.overdue",
    "task.completed",
    "case.closed",
    "legal.eviction-requested",
    "postponement.requested",
    "second-chance.requested",
    "contact-person.assigned",
    "signal.resolved",
    "household.updated",
    "second-chance-agreement.offered",
    "second-chance-agreement.signed",
    "oco.referral-accepted",
    "oco.referral-contact-made",
    "oco.referral-support-started",
    "oco.referral-support-ended",
    "oco.referral-declined",
)
NOTIFICATION_EVENTS: Final = (
    "notification.requested",
    "notification.sent",
    "notification.delivered",
    "notification.failed",
)
PARTNER_EVENTS: Final = ("partner.message-received", "partner.delivery-failed")

EVENT_NAMES: Final[tuple[str, ...]] = CASE_EVENTS + NOTIFICATION_EVENTS + PARTNER_EVENTS

_TOPIC_OF = MappingProxyType(
    {
        **dict.fromkeys(CASE_EVENTS, CASE_EVENTS_TOPIC),
        **dict.fromkeys(NOTIFICATION_EVENTS, NOTIFICATION_EVENTS_TOPIC),
        **dict.fromkeys(PARTNER_EVENTS, PARTNER_EVENTS_TOPIC),
    }
)


def default_topic(event_name: str) -> str:
    """The default topic an event travels on (case-api, notifier and partner gateway each own one)."""
    try:
        return _TOPIC_OF[event_name]
    except KeyError:
        raise ValueError(f"unknown event {event_name!r}; known events: {', '.join(EVENT_NAMES)}") from None


def dlq_topic(topic: str, group: str) -> str:
    """The dead-letter topic of one consumer group for one topic: `<topic>.dlq.<group>`."""
    return f"{topic}.dlq.{group}"
