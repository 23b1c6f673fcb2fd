"""Choosing a moment's channels for one household (choice.decide): pure, no database."""

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from notifier_fixtures import MADE_UP_HOUSEHOLD

from notifier.notifications.choice import (
    CHANNELS_OF,
    TASK,
    Chosen,
    QuietHours,
    decide,
    language_for,
    normalised_mobile,
)
from notifier.notifications.models import Moment
from notifier.templating.context import Household

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
QUIET = QuietHours(AMSTERDAM)
MORNING = datetime(2026, 3, 2, 10, 30, tzinfo=AMSTERDAM)  # a Monday, outside the quiet hours


def household(**changes: Any) -> Household:
    return replace(MADE_UP_HOUSEHOLD, **changes)


def chosen(moment: Moment, somebody: Household, now: datetime = MORNING) -> list[str]:
    return [c.channel for c in decide(moment, somebody, now=now, quiet=QUIET).chosen]


def reasons(moment: Moment, somebody: Household, now: datetime = MORNING) -> dict[str, tuple[bool, str]]:
    return {r["channel"]: (r["chosen"], r["reason"]) for r in decide(moment, somebody, now=now, quiet=QUIET).reasons}


def test_every_possible_channel_of_m1_is_chosen_in_the_spec_s_order() -> None:
    decision = decide(Moment.signal, MADE_UP_HOUSEHOLD, now=MORNING, quiet=QUIET)
    assert decision.chosen == [
        Chosen("letter", "home", MORNING),
        Chosen("sms", "mobile", MORNING),
        Chosen("email", "email", MORNING),
    ]
    assert decision.language == "nl"
    assert [r["channel"] for r in decision.reasons] == ["letter", "sms", "email"]
    assert all(r["chosen"] for r in decision.reasons)


@pytest.mark.parametrize(("preferred", "first"), [("email", "email"), ("sms", "sms"), ("letter", "letter")])
def test_the_preferred_channel_comes_first(preferred: str, first: str) -> None:
    somebody = household(preferred_channel=preferred)
    channels = chosen(Moment.threat, somebody)
    assert channels[0] == first
    assert sorted(channels) == ["email", "letter", "sms"]
    assert reasons(Moment.threat, somebody)[first][1].startswith("preferred channel; ")


@pytest.mark.parametrize(
    ("moment", "preferred", "expected"),
    [
        (Moment.no_contact, None, ["sms", TASK]),
        (Moment.no_contact, "email", ["email", TASK]),
        (Moment.averted, None, ["letter"]),
        (Moment.averted, "email", ["email"]),
    ],
)
def test_a_moment_of_one_written_channel_takes_the_first_possible_and_the_preference_wins_it(
    moment: Moment, preferred: str | None, expected: list[str]
) -> None:
    somebody = household(preferred_channel=preferred)
    assert chosen(moment, somebody) == expected
    [skipped] = [channel for channel in CHANNELS_OF[moment].written if channel not in expected]
    assert reasons(moment, somebody)[skipped] == (
        False,
        "this moment takes one written channel and an earlier one was chosen",
    )


def test_m2_takes_e_mail_when_there_is_no_valid_mobile_number() -> None:
    assert chosen(Moment.no_contact, household(mobile="+32 470 12 34 56")) == ["email", TASK]


@pytest.mark.parametrize(
    ("changes", "skipped", "why"),
    [
        ({"email": "jelle.testhuis(at)example"}, "email", "no valid e-mail address"),
        ({"email": "jelle@localhost"}, "email", "no valid e-mail address"),
        ({"email": None}, "email", "no e-mail address"),
        ({"mobile": "+32 470 12 34 56"}, "sms", "no valid Dutch mobile number"),  # Belgian
        ({"mobile": "020 123 4567"}, "sms", "no valid Dutch mobile number"),  # a landline
        ({"mobile": None}, "sms", "no mobile number"),
        ({"address_lines": ()}, "letter", "no postal address"),
    ],
)
def test_a_channel_without_a_valid_address_is_skipped_with_its_reason(
    changes: dict[str, Any], skipped: str, why: str
) -> None:
    somebody = household(**changes)
    assert skipped not in chosen(Moment.signal, somebody)
    assert reasons(Moment.signal, somebody)[skipped] == (False, why)
    assert len(chosen(Moment.signal, somebody)) == 2  # the others still go


@pytest.mark.parametrize("number", ["0612345678", "06-12345678", "+31 6 1234 5678", "0031612345678", "(06) 1234 5678"])
def test_dutch_mobile_numbers_are_recognised_however_written(number: str) -> None:
    assert normalised_mobile(number) is not None
    assert "sms" in chosen(Moment.countdown, household(mobile=number))


@pytest.mark.parametrize("number", ["0201234567", "+3247012345", "061234567", "06123456789", "+49 151 2345678", ""])
def test_other_numbers_are_no_dutch_mobile(number: str) -> None:
    assert normalised_mobile(number) is None


def test_an_evicted_household_without_a_mail_address_gets_no_letter() -> None:
    evicted = household(evicted=True)
    decision = decide(Moment.evicted, evicted, now=MORNING, quiet=QUIET)
    assert [c.channel for c in decision.chosen] == ["sms", "email", TASK]
    assert reasons(Moment.evicted, evicted)["letter"] == (
        False,
        "the home address is gone after the eviction and no mail address is recorded",
    )


def test_an_evicted_household_with_a_mail_address_gets_its_letter_there() -> None:
    evicted = household(evicted=True, mail_address_lines=("Postbus 12", "8900 AA Proefdam"))
    letters = [c for c in decide(Moment.belongings, evicted, now=MORNING, quiet=QUIET).chosen if c.channel == "letter"]
    assert letters == [Chosen("letter", "mail_address", MORNING)]


def test_a_recorded_mail_address_is_used_before_the_home_address() -> None:
    somebody = household(mail_address_lines=("Postbus 12", "8900 AA Proefdam"))
    [letter] = [c for c in decide(Moment.signal, somebody, now=MORNING, quiet=QUIET).chosen if c.channel == "letter"]
    assert letter.address_kind == "mail_address"


def test_without_any_written_channel_a_caseworker_visits() -> None:
    unreachable = household(email=None, mobile="not a number", evicted=True)
    decision = decide(Moment.signal, unreachable, now=MORNING, quiet=QUIET)
    assert decision.chosen == [Chosen(TASK, "case", MORNING, "home_visit")]
    assert reasons(Moment.signal, unreachable)[TASK] == (
        True,
        "home_visit: no written channel can reach the household",
    )


def test_moments_that_ask_for_personal_contact_get_their_task_besides_the_written_channels() -> None:
    [task] = [c for c in decide(Moment.date_set, MADE_UP_HOUSEHOLD, now=MORNING, quiet=QUIET).chosen if c.task_kind]
    assert (task.channel, task.task_kind) == (TASK, "call")
    assert TASK not in chosen(Moment.signal, MADE_UP_HOUSEHOLD)
    assert TASK not in chosen(Moment.countdown, MADE_UP_HOUSEHOLD)


def test_a_household_that_prefers_the_phone_also_gets_a_call() -> None:
    by_phone = household(preferred_channel="phone")
    decision = decide(Moment.signal, by_phone, now=MORNING, quiet=QUIET)
    assert [c.channel for c in decision.chosen] == ["letter", "sms", "email", TASK]
    assert decision.chosen[-1].task_kind == "call"
    assert reasons(Moment.signal, by_phone)[TASK] == (True, "call: the household prefers the phone")
    # A moment that already sends somebody round keeps the visit.
    [visit] = [c for c in decide(Moment.no_contact, by_phone, now=MORNING, quiet=QUIET).chosen if c.task_kind]
    assert visit.task_kind == "home_visit"


@pytest.mark.parametrize(
    ("local", "sms_due"),
    [
        (datetime(2026, 3, 2, 22, 30), datetime(2026, 3, 3, 8, 0)),  # late evening: 08:00 the next day
        (datetime(2026, 3, 2, 7, 59), datetime(2026, 3, 2, 8, 0)),  # early morning: 08:00 the same day
        (datetime(2026, 3, 2, 21, 0), datetime(2026, 3, 3, 8, 0)),  # the quiet hours start at 21:00
        (datetime(2026, 3, 2, 0, 0), datetime(2026, 3, 2, 8, 0)),
        (datetime(2026, 3, 28, 23, 0), datetime(2026, 3, 29, 8, 0)),  # the night summer time starts: 08:00 CEST
    ],
)
def test_an_sms_decided_in_the_quiet_hours_waits_for_8_local_and_the_other_channels_do_not(
    local: datetime, sms_due: datetime
) -> None:
    now = local.replace(tzinfo=AMSTERDAM)
    decision = decide(Moment.signal, MADE_UP_HOUSEHOLD, now=now, quiet=QUIET)
    due = {c.channel: c.due_at for c in decision.chosen}
    assert due["sms"] == sms_due.replace(tzinfo=AMSTERDAM)
    assert due["sms"].astimezone(AMSTERDAM).hour == 8
    assert due["letter"] == due["email"] == now
    assert reasons(Moment.signal, MADE_UP_HOUSEHOLD, now)["sms"][1].endswith("; waits for the end of the quiet hours")


@pytest.mark.parametrize("local", [datetime(2026, 3, 2, 8, 0), datetime(2026, 3, 2, 20, 59, 59)])
def test_an_sms_outside_the_quiet_hours_is_due_at_once(local: datetime) -> None:
    now = local.replace(tzinfo=AMSTERDAM)
    [sms] = [c for c in decide(Moment.countdown, MADE_UP_HOUSEHOLD, now=now, quiet=QUIET).chosen if c.channel == "sms"]
    assert sms.due_at == now


def test_quiet_hours_are_amsterdam_time_whatever_the_instant_s_zone() -> None:
    # 20:30 UTC in March is 21:30 in Amsterdam: quiet.
    assert QUIET.contains(datetime(2026, 3, 2, 20, 30, tzinfo=UTC))
    assert not QUIET.contains(datetime(2026, 3, 2, 19, 30, tzinfo=UTC))
    daytime = QuietHours(AMSTERDAM, start=12, end=14)  # a window within one day
    assert daytime.contains(datetime(2026, 3, 2, 13, tzinfo=AMSTERDAM))
    assert not daytime.contains(datetime(2026, 3, 2, 14, tzinfo=AMSTERDAM))
    assert daytime.not_before(datetime(2026, 3, 2, 12, 30, tzinfo=AMSTERDAM)) == datetime(
        2026, 3, 2, 14, tzinfo=AMSTERDAM
    )


def test_the_household_s_language_is_used_where_a_template_exists() -> None:
    frisian = household(language="fy")
    decision = decide(Moment.signal, frisian, now=MORNING, quiet=QUIET)
    assert decision.language == "fy"
    assert {language_for(Moment.signal, c.channel, frisian) for c in decision.chosen} == {"fy"}
    assert "language" not in reasons(Moment.signal, frisian)


def test_without_a_template_in_the_household_s_language_the_message_is_dutch() -> None:
    german = household(language="de")
    decision = decide(Moment.signal, german, now=MORNING, quiet=QUIET)
    assert {language_for(Moment.signal, c.channel, german) for c in decision.chosen} == {"nl"}
    assert reasons(Moment.signal, german)["language"] == (False, "no de template for letter, sms, email: Dutch")
    # The decision still records the language asked for.
    assert decision.language == "de"
