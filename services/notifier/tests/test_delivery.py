"""What households receive, end to end through the real channels: case events planned by the consumer's handler,
fired and handed over by the dispatcher (injectable clock), e-mail to a real SMTP server process, SMS to a local
process speaking CM.com's API that posts its delivery reports back to the notifier's API (served by uvicorn on
loopback), letters as PDFs in the print folder. Asserted per moment, language and fallback."""

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from notifier_fixtures import MADE_UP_HOUSEHOLD
from sqlalchemy import select

from devinfra.ports import free_port
from devinfra.sms_provider import LocalSmsProvider
from devinfra.smtp_sink import REFUSED_DOMAIN, LocalSmtpServer
from eviction_schemas.envelope import CloudEvent, make_event
from notifier.channels.base import HandOver, OutgoingMessage
from notifier.channels.letter import LetterChannel
from notifier.channels.sms_cm import CmSmsChannel
from notifier.channels.smtp import SmtpChannel
from notifier.config import Settings
from notifier.main import create_app
from notifier.notifications.choice import QuietHours
from notifier.notifications.lifecycle import Policy
from notifier.notifications.models import Notification, Status
from notifier.notifications.moments import Timing
from notifier.notifications.service import Dispatcher, apply_event
from notifier.templating.catalog import reference_of, render
from notifier.templating.context import Household, Sender
from service_kit.calendar import working_day_calendar
from service_kit.clock import FixedClock
from service_kit.settings import DEVELOPMENT_OIN

pytestmark = pytest.mark.postgres

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# A Tuesday morning in March, 10:00 local: no quiet hours, a working day.
MORNING = datetime(2026, 3, 3, 10, 0, tzinfo=AMSTERDAM)
SENDER = Sender()
REPORT_USER, REPORT_PASSWORD = "cm-reports", "dev-change-me-report-test"


def household(language: str, *, mobile: str, email: str, first_name: str) -> Household:
    return replace(
        MADE_UP_HOUSEHOLD,
        first_name=first_name,
        full_name=f"{first_name} Testhuis",
        language=language,
        mobile=mobile,
        email=email,
    )


class StaticContacts:
    def __init__(self) -> None:
        self.by_case: dict[str, Household] = {}

    async def household(self, case_id: str) -> Household | None:
        return self.by_case.get(case_id)


class TaskDesk:
    """Stands in for case-api's task endpoint (tested against case-api itself elsewhere)."""

    name = "caseworker_task"

    def __init__(self) -> None:
        self.tasks: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> HandOver:
        self.tasks.append(message)
        return HandOver(accepted=True, provider_reference=f"task:{message.notification_id}")


def event(name: str, case_id: str, at: datetime, data: dict[str, Any], sequence: int = 1) -> CloudEvent:
    return make_event(
        event=name,
        source_service="case-api",
        oin=DEVELOPMENT_OIN,
        subject=case_id,
        sequence=sequence,
        time=at.astimezone(UTC),
        data=data,
    )


def opened(case_id: str, at: datetime) -> CloudEvent:
    return event(
        "case.opened",
        case_id,
        at,
        {
            "case_id": case_id,
            "household_id": str(uuid.uuid4()),
            "opened_by": "signal",
            "priority": "normal",
            "has_minors": True,
            "team": "team-noord",
        },
    )


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[LocalSmtpServer]:
    with LocalSmtpServer(tmp_path / "smtp") as server:
        yield server


@pytest.fixture
async def notifier_api(database_url: str) -> AsyncIterator[str]:
    """The notifier's API on loopback, where the SMS provider posts its delivery reports."""
    port = free_port()
    settings = Settings(
        database_url=database_url,
        sms_report_username=REPORT_USER,
        sms_report_password=REPORT_PASSWORD,
    )
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield f"http://{REPORT_USER}:{REPORT_PASSWORD}@127.0.0.1:{port}/v1/sms/delivery-reports"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def sms(tmp_path: Path, notifier_api: str) -> Iterator[LocalSmsProvider]:
    with LocalSmsProvider(tmp_path / "sms", report_url=notifier_api, report_delay=0.05) as provider:
        yield provider


class World:
    def __init__(self, sessions: Any, smtp: LocalSmtpServer, sms: LocalSmsProvider, print_dir: Path) -> None:
        self.sessions = sessions
        self.smtp, self.sms, self.print_dir = smtp, sms, print_dir
        self.clock = FixedClock(MORNING.astimezone(UTC))
        self.contacts = StaticContacts()
        self.desk = TaskDesk()
        self.timing = Timing(calendar=working_day_calendar("Europe/Amsterdam"), send_hour=10)
        self.dispatcher = Dispatcher(
            sessions=sessions,
            channels={
                "email": SmtpChannel(
                    host="127.0.0.1",
                    port=smtp.port,
                    starttls=False,
                    username="",
                    password="",
                    sender="Gemeente Proefdam <geldzorgen@proefdam.example>",
                    timeout=5,
                ),
                "sms": CmSmsChannel(api_url=sms.url, product_token=sms.product_token, sender="Proefdam"),
                "letter": LetterChannel(
                    print_dir, sender=SENDER, postage_for={"M4": "priority"}, default_postage="standard"
                ),
                "caseworker_task": self.desk,
            },
            contacts=self.contacts,
            sender=SENDER,
            policy=Policy(
                oin=DEVELOPMENT_OIN,
                topic="eviction-prevention.notification-events.v1",
                max_attempts=3,
                retry_base_seconds=30,
            ),
            quiet=QuietHours(AMSTERDAM),
        )

    async def apply(self, cloud_event: CloudEvent) -> None:
        async with self.sessions() as session, session.begin():
            await apply_event(session, event=cloud_event, timing=self.timing, now=self.clock.now())

    async def run(self) -> None:
        await self.dispatcher.run_once(self.clock.now())

    async def notifications(self, case_id: str) -> list[Notification]:
        async with self.sessions() as session:
            found = await session.scalars(
                select(Notification).where(Notification.case_id == case_id).order_by(Notification.created_at)
            )
            return list(found.all())

    def emails_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.smtp.messages() if m["To"] == address]

    def sms_to(self, number: str) -> list[dict[str, Any]]:
        return [m for m in self.sms.messages() if m.get("to") == number]


@pytest.fixture
def world(sessions: Any, smtp: LocalSmtpServer, sms: LocalSmsProvider, tmp_path: Path) -> World:
    return World(sessions, smtp, sms, tmp_path / "print")


async def eventually(check: Any, what: str, timeout: float = 15) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def body_of(message: EmailMessage) -> str:
    part = message.get_body()
    assert part is not None
    return str(part.get_content())


@pytest.mark.parametrize(("language", "first_name"), [("nl", "Jelle"), ("fy", "Sjoukje"), ("en", "Alex")])
async def test_m1_reaches_the_household_by_letter_sms_and_email_in_its_language(
    world: World, language: str, first_name: str
) -> None:
    case_id = str(uuid.uuid4())
    address = f"{first_name.lower()}.{language}@example.invalid"
    world.contacts.by_case[case_id] = household(language, mobile="06 1234 5601", email=address, first_name=first_name)
    known = world.contacts.by_case[case_id]

    await world.apply(opened(case_id, MORNING))
    await world.apply(opened(case_id, MORNING))  # redelivered: plans nothing twice
    await world.run()
    await world.run()

    expected_email = render(
        "M1.email", language=language, household=known, sender=SENDER, reference=reference_of(case_id)
    )
    [mail] = world.emails_to(address)
    assert mail["Subject"] == expected_email.subject
    assert mail["Content-Language"] == language
    assert f"Beste {known.full_name}" in body_of(mail) or known.full_name in body_of(mail)
    assert reference_of(case_id) in body_of(mail)

    expected_sms = render("M1.sms", language=language, household=known, sender=SENDER, reference=reference_of(case_id))
    [text] = world.sms_to("0031612345601")
    assert first_name in text["content"]
    assert known.full_name not in text["content"]
    assert expected_sms.body.strip() in text["content"]

    [pdf] = list(world.print_dir.glob("*.pdf"))
    sidecar = json.loads(pdf.with_suffix(".json").read_text())
    assert sidecar["moment"] == "M1"

    async def sms_delivered() -> bool:
        by_channel = {n.channel: n for n in await world.notifications(case_id)}
        return by_channel["sms"].status is Status.delivered

    await eventually(sms_delivered, "the provider's delivery report")
    by_channel = {n.channel: n for n in await world.notifications(case_id)}
    assert set(by_channel) == {"letter", "sms", "email"}
    assert {n.language for n in by_channel.values()} == {language}
    assert by_channel["email"].status is Status.sent
    assert by_channel["letter"].status is Status.sent
    assert world.desk.tasks == []


async def test_a_failed_sms_and_a_bounced_email_fall_back_to_a_caseworker_visit(world: World) -> None:
    case_id = str(uuid.uuid4())
    bounced = f"wrong.address@{REFUSED_DOMAIN}"
    # No postal address: the letter of M1 is skipped, and is no fallback either.
    world.contacts.by_case[case_id] = replace(
        household("nl", mobile="06 1234 9999", email=bounced, first_name="Jelle"), address_lines=()
    )
    await world.apply(opened(case_id, MORNING))
    await world.run()  # M1 now: the SMS goes out, the e-mail bounces at RCPT (permanent)
    await eventually(
        lambda: asyncio.sleep(0, result=len(world.sms.reports()) >= 1), "the failed report of the SMS provider"
    )

    async def settled() -> list[Notification]:
        found = await world.notifications(case_id)
        return found if {n.channel for n in found} >= {"sms", "email", "caseworker_task"} else []

    for _ in range(5):
        await world.run()
        with contextlib.suppress(AssertionError):
            await eventually(settled, "the fallback", timeout=1)
            break
    found = await settled()
    by_channel = {n.channel: n for n in found}
    assert by_channel["sms"].status is Status.permanent_failure
    assert by_channel["email"].status is Status.permanent_failure
    assert by_channel["email"].reason
    assert "recipient_refused_550" in by_channel["email"].reason
    assert len(world.sms_to("0031612349999")) == 1
    # The report arrived on the API, whose clock is the system's: the fallback is due from then on. (That jump
    # may also fire the case's later moments, with their own SMS: only M1's messages are counted below.)
    world.clock.set(datetime.now(UTC) + timedelta(seconds=1))
    await world.run()
    [task] = [t for t in world.desk.tasks if t.moment == "M1"]
    assert task.case_id == case_id
    assert task.task_kind == "home_visit"
    assert world.emails_to(bounced) == []
    m1_sms = [n for n in await world.notifications(case_id) if n.moment == "M1" and n.channel == "sms"]
    assert [n.status for n in m1_sms] == [Status.permanent_failure], "a failed SMS is not sent again for M1"
    assert m1_sms[0].attempts == 1


async def test_an_sms_waits_for_the_end_of_the_quiet_hours_and_the_letter_does_not(world: World) -> None:
    case_id = str(uuid.uuid4())
    world.contacts.by_case[case_id] = household(
        "en", mobile="+31 6 1234 5602", email="late@example.invalid", first_name="Alex"
    )
    late = datetime(2026, 3, 3, 22, 30, tzinfo=AMSTERDAM)
    world.clock.set(late.astimezone(UTC))
    await world.apply(opened(case_id, late))
    await world.apply(
        event(
            "legal.summons-served",
            case_id,
            late,
            {"served_on": "2026-03-03", "court_reference": "C/17/123456"},
            sequence=2,
        )
    )
    await world.run()

    assert len(world.emails_to("late@example.invalid")) >= 1
    assert world.sms_to("0031612345602") == []
    sms_m3 = [n for n in await world.notifications(case_id) if n.channel == "sms" and n.moment == "M3"]
    assert [n.due_at.astimezone(AMSTERDAM) for n in sms_m3] == [datetime(2026, 3, 4, 8, 0, tzinfo=AMSTERDAM)]

    world.clock.set(datetime(2026, 3, 4, 7, 59, tzinfo=AMSTERDAM).astimezone(UTC))
    await world.run()
    assert world.sms_to("0031612345602") == []
    world.clock.set(datetime(2026, 3, 4, 8, 0, tzinfo=AMSTERDAM).astimezone(UTC))
    await world.run()
    texts = world.sms_to("0031612345602")
    assert len(texts) == 2  # M1 and M3, both held back until 08:00
    expected = render(
        "M3.sms",
        language="en",
        household=world.contacts.by_case[case_id],
        sender=SENDER,
        reference=reference_of(case_id),
    )
    assert any(expected.body.strip() in t["content"] for t in texts)


async def test_the_countdown_goes_out_on_its_days_and_stops_when_the_eviction_is_averted(world: World) -> None:
    case_id = str(uuid.uuid4())
    world.contacts.by_case[case_id] = household(
        "fy", mobile="06 1234 5603", email="fy.countdown@example.invalid", first_name="Sjoukje"
    )
    eviction = date(2026, 4, 14)
    await world.apply(
        event("eviction.scheduled", case_id, MORNING, {"eviction_date": eviction.isoformat(), "late_notice": False})
    )
    await world.run()
    m4 = list(world.emails_to("fy.countdown@example.invalid"))
    assert len(m4) == 1
    assert "14 april 2026" in body_of(m4[0])

    world.clock.set(datetime(2026, 3, 31, 10, 0, tzinfo=AMSTERDAM).astimezone(UTC))  # T-14
    await world.run()
    assert len(world.emails_to("fy.countdown@example.invalid")) == 2
    world.clock.set(datetime(2026, 4, 7, 10, 0, tzinfo=AMSTERDAM).astimezone(UTC))  # T-7
    await world.run()
    mails = world.emails_to("fy.countdown@example.invalid")
    assert len(mails) == 3
    expected = render(
        "M5.email",
        language="fy",
        household=replace(world.contacts.by_case[case_id], eviction_date=eviction),
        sender=SENDER,
        reference=reference_of(case_id),
    )
    assert mails[-1]["Subject"] == expected.subject

    await world.apply(
        event(
            "eviction.cancelled",
            case_id,
            datetime(2026, 4, 8, 9, 0, tzinfo=AMSTERDAM),
            {
                "eviction_date": eviction.isoformat(),
                "reason_code": "arrears_paid",
            },
            sequence=2,
        )
    )
    world.clock.set(datetime(2026, 4, 12, 10, 0, tzinfo=AMSTERDAM).astimezone(UTC))  # T-2
    await world.run()
    subjects = [m["Subject"] for m in world.emails_to("fy.countdown@example.invalid")]
    assert subjects.count(expected.subject) == 2, "no T-2 reminder after the eviction was averted"
    averted = [n for n in await world.notifications(case_id) if n.moment == "M6"]
    assert [n.channel for n in averted] == ["letter"], "M6 takes one written channel: the letter comes first"


TRIGGERS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "M3": [("legal.summons-served", {"served_on": "2026-03-03", "court_reference": "C/17/4711"})],
    "M4": [("eviction.scheduled", {"eviction_date": "2026-04-14", "late_notice": False})],
    "M6": [
        ("eviction.scheduled", {"eviction_date": "2026-04-14", "late_notice": False}),
        ("eviction.cancelled", {"eviction_date": "2026-04-14", "reason_code": "payment_arrangement"}),
    ],
    "M7": [("eviction.executed", {"executed_on": "2026-03-03"})],
    "M8": [
        (
            "belongings.stored",
            # Told at storage; the reminder and the end are after this test's last round.
            {"storage_reference": "OPSLAG-1", "stored_on": "2026-01-29", "retention_ends_on": "2026-04-30"},
        )
    ],
    "M9": [
        (
            "temporary-housing.decided",
            {
                "granted": True,
                "debt_arrangement_in_place": True,
                "financial_guidance_active": True,
                "override_reason_present": False,
            },
        )
    ],
}


@pytest.mark.parametrize("language", ["nl", "fy", "en"])
async def test_every_moment_reaches_the_smtp_server_by_email_in_the_households_language(
    world: World, language: str
) -> None:
    """M1 to M9 through the real SMTP server: the moment's e-mail, in the household's language, once."""
    address = f"every.moment.{language}@example.invalid"
    cases: dict[str, str] = {}
    for moment in ("M1", "M2", "M3", "M4", "M5", "M6", "M7", "M8", "M9"):
        case_id = str(uuid.uuid4())
        cases[moment] = case_id
        # E-mail preferred: the moments that take one written channel (M2, M6) choose it.
        world.contacts.by_case[case_id] = replace(
            household(language, mobile="06 1234 5610", email=address, first_name="Wietske"), preferred_channel="email"
        )
        if moment in {"M1", "M2"}:
            await world.apply(opened(case_id, MORNING))
        elif moment == "M5":
            await world.apply(TRIGGER_M5(case_id))
        for sequence, (name, data) in enumerate(TRIGGERS.get(moment, []), start=2):
            await world.apply(event(name, case_id, MORNING, data, sequence=sequence))
    await world.run()
    world.clock.set(datetime(2026, 3, 31, 10, 0, tzinfo=AMSTERDAM).astimezone(UTC))  # M2 (5 working days on) and T-14
    await world.run()

    received: dict[str, list[EmailMessage]] = {}
    for mail in world.emails_to(address):
        received.setdefault(str(mail["X-Moment"]), []).append(mail)
    for moment, case_id in cases.items():
        mails = [m for m in received.get(moment, []) if reference_of(case_id) in body_of(m)]
        assert len(mails) == 1, f"{moment}: {len(mails)} e-mails"
        assert mails[0]["Content-Language"] == language, moment
        assert "Wietske" in body_of(mails[0])


def TRIGGER_M5(case_id: str) -> CloudEvent:
    return event("eviction.scheduled", case_id, MORNING, {"eviction_date": "2026-04-14", "late_notice": False})
