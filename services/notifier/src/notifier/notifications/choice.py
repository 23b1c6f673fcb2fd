"""Choosing the channels of a moment for one household (issue 4, point 4): pure functions, no I/O.

Per moment, spec/notifications.md names the written channels (all of them, or the first that is possible) and
whether a caseworker task goes too. For one household:

1. The preferred channel comes first (and wins a moment that takes only one written channel); a household that
   prefers the phone also gets a call from a caseworker.
2. A channel without a valid address is skipped: e-mail needs a plausible address, SMS a Dutch mobile number, a
   letter a postal address. After an eviction the home address is gone: letters go to a recorded mail address
   (postadres) or not at all.
3. When no written channel can reach the household, a caseworker task (a home visit) is created instead.
4. No SMS in the quiet hours (21:00-08:00 Europe/Amsterdam by default): it waits until they end.
5. The household's language when a template exists in it, Dutch otherwise.

Every channel considered is recorded with the reason it was chosen or skipped (ChannelDecision).
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from notifier.channels.sms_cm import cm_number
from notifier.notifications.models import Moment
from notifier.templating.catalog import available_languages
from notifier.templating.context import Household

TASK = "caseworker_task"
DEFAULT_LANGUAGE = "nl"
EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[A-Za-z]{2,}$")


@dataclass(frozen=True)
class MomentChannels:
    written: tuple[str, ...]
    first_only: bool = False  # "SMS or e-mail": the first that is possible
    task: str | None = None  # a caseworker task goes too: "home_visit" or "call"


CHANNELS_OF: dict[Moment, MomentChannels] = {
    Moment.signal: MomentChannels(("letter", "sms", "email")),
    Moment.no_contact: MomentChannels(("sms", "email"), first_only=True, task="home_visit"),
    Moment.threat: MomentChannels(("letter", "sms", "email")),
    Moment.date_set: MomentChannels(("letter", "sms", "email"), task="call"),
    Moment.countdown: MomentChannels(("sms", "email")),
    Moment.averted: MomentChannels(("letter", "email"), first_only=True),
    Moment.evicted: MomentChannels(("sms", "email", "letter"), task="home_visit"),
    Moment.belongings: MomentChannels(("sms", "email", "letter")),
    Moment.housing_decision: MomentChannels(("letter", "email")),
}


@dataclass(frozen=True)
class QuietHours:
    zone: ZoneInfo
    start: int = 21
    end: int = 8

    def contains(self, instant: datetime) -> bool:
        hour = instant.astimezone(self.zone).hour
        if self.start > self.end:
            return hour >= self.start or hour < self.end
        return self.start <= hour < self.end

    def not_before(self, instant: datetime) -> datetime:
        """`instant`, or the end of the quiet hours it falls in."""
        if not self.contains(instant):
            return instant
        local = instant.astimezone(self.zone)
        day = local.date() if local.hour < self.end else local.date() + timedelta(days=1)
        return datetime.combine(day, time(self.end), tzinfo=self.zone)


@dataclass(frozen=True)
class Chosen:
    channel: str
    address_kind: str
    due_at: datetime
    task_kind: str | None = None


@dataclass
class Decision:
    language: str
    chosen: list[Chosen] = field(default_factory=list)
    reasons: list[dict[str, object]] = field(default_factory=list)

    def note(self, channel: str, chosen: bool, reason: str, *, reachable: bool | None = None) -> None:
        entry: dict[str, object] = {"channel": channel, "chosen": chosen, "reason": reason}
        if reachable is not None:
            entry["reachable"] = reachable  # whether the household has a valid address for it
        self.reasons.append(entry)


def normalised_mobile(number: str | None) -> str | None:
    """A Dutch mobile number (06 and eight digits, however written) in the provider's form, or None."""
    return cm_number(number)


def address_for(channel: str, household: Household) -> tuple[str | None, str]:
    """(address kind, why) for a channel; kind None when the household cannot be reached on it."""
    if channel == "email":
        if household.email and EMAIL.match(household.email):
            return "email", "e-mail address recorded"
        return None, "no valid e-mail address" if household.email else "no e-mail address"
    if channel == "sms":
        if normalised_mobile(household.mobile):
            return "mobile", "Dutch mobile number recorded"
        return None, "no valid Dutch mobile number" if household.mobile else "no mobile number"
    if channel == "letter":
        if household.mail_address_lines:
            return "mail_address", "to the recorded mail address"
        if household.evicted:
            return None, "the home address is gone after the eviction and no mail address is recorded"
        if household.address_lines:
            return "home", "to the home address"
        return None, "no postal address"
    return None, f"unknown channel {channel}"


def language_for(moment: Moment, channel: str, household: Household) -> str:
    if household.language in available_languages(moment.value, channel):
        return household.language
    return DEFAULT_LANGUAGE


def decide(moment: Moment, household: Household, *, now: datetime, quiet: QuietHours) -> Decision:
    plan = CHANNELS_OF[moment]
    preferred = household.preferred_channel
    order = list(plan.written)
    if preferred in order:
        order.remove(preferred)
        order.insert(0, preferred)
    decision = Decision(language=household.language or DEFAULT_LANGUAGE)
    for channel in order:
        kind, why = address_for(channel, household)
        if kind is None:
            decision.note(channel, False, why, reachable=False)
            continue
        if plan.first_only and any(c.channel != TASK for c in decision.chosen):
            decision.note(
                channel, False, "this moment takes one written channel and an earlier one was chosen", reachable=True
            )
            continue
        due = quiet.not_before(now) if channel == "sms" else now
        if due != now:
            why += "; waits for the end of the quiet hours"
        if channel == preferred:
            why = "preferred channel; " + why
        decision.chosen.append(Chosen(channel, kind, due))
        decision.note(channel, True, why, reachable=True)
    written = [c for c in decision.chosen if c.channel != TASK]
    task_kind, task_reason = plan.task, "this moment asks for personal contact"
    if not written:
        task_kind, task_reason = task_kind or "home_visit", "no written channel can reach the household"
    elif preferred == "phone" and task_kind is None:
        task_kind, task_reason = "call", "the household prefers the phone"
    if task_kind is not None:
        decision.chosen.append(Chosen(TASK, "case", now, task_kind))
        decision.note(TASK, True, f"{task_kind}: {task_reason}")
    if household.language and household.language != DEFAULT_LANGUAGE:
        missing = [c.channel for c in written if language_for(moment, c.channel, household) != household.language]
        if missing:
            decision.note("language", False, f"no {household.language} template for {', '.join(missing)}: Dutch")
    return decision


def fallback_channels(moment: Moment) -> tuple[str, ...]:
    """The written channels a permanent failure falls back to, in order, before a caseworker task."""
    return CHANNELS_OF[moment].written
