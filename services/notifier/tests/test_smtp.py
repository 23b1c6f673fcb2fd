"""The SMTP channel against a real SMTP server process on loopback (aiosmtpd with a folder sink)."""

import asyncio
import email
import email.policy
from collections.abc import Iterator
from pathlib import Path

import pytest
from notifier_fixtures import MADE_UP_HOUSEHOLD

from devinfra.ports import free_port
from devinfra.smtp_sink import LocalSmtpServer
from notifier.channels.base import OutgoingMessage
from notifier.channels.smtp import SmtpChannel
from notifier.templating.catalog import render
from notifier.templating.context import Sender


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    with LocalSmtpServer(tmp_path / "received") as server:
        yield server.port, server.folder


@pytest.mark.parametrize("language", ["nl", "fy", "en"])
async def test_an_m4_email_arrives_at_a_real_smtp_server(smtp_server: tuple[int, Path], language: str) -> None:
    port, folder = smtp_server
    rendered = render("M4.email", language=language, household=MADE_UP_HOUSEHOLD, sender=Sender(), reference="AB12CD34")
    channel = SmtpChannel(
        host="127.0.0.1",
        port=port,
        starttls=False,
        username="",
        password="",
        sender="Gemeente Proefdam <geldzorgen@proefdam.example>",
    )
    message = OutgoingMessage(
        notification_id=f"notification-{language}",
        case_id="ab12cd34",
        moment="M4",
        channel="email",
        language=language,
        subject=rendered.subject,
        body=rendered.body,
        recipient="jelle.testhuis@example.invalid",
        template_version=rendered.version,
    )
    handover = await channel.send(message)
    assert handover.accepted, handover.reason
    assert handover.provider_reference == f"<notification-{language}@proefdam.example>"

    for _ in range(100):
        received = list(folder.glob("*.eml"))
        if received:
            break
        await asyncio.sleep(0.05)
    [eml] = received
    got = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert got["Subject"] == rendered.subject
    assert got["To"] == "jelle.testhuis@example.invalid"
    assert got["Message-ID"] == f"<notification-{language}@proefdam.example>"
    assert got["Content-Language"] == language
    assert got["X-Template-Version"] == "1"
    body = got.get_body()
    assert body is not None
    assert "14 0511" in body.get_content()
    assert "Jelle Testhuis" in body.get_content()


async def test_an_smtp_server_that_is_down_is_a_temporary_failure() -> None:
    channel = SmtpChannel(
        host="127.0.0.1", port=free_port(), starttls=False, username="", password="", sender="x@y.example", timeout=2
    )
    message = OutgoingMessage("n1", "c1", "M1", "email", "nl", "s", "b", recipient="a@b.example")
    handover = await channel.send(message)
    assert not handover.accepted
    assert not handover.permanent


def _m1_message(notification_id: str) -> OutgoingMessage:
    rendered = render("M1.email", language="nl", household=MADE_UP_HOUSEHOLD, sender=Sender(), reference="AB12CD34")
    return OutgoingMessage(
        notification_id=notification_id,
        case_id="ab12cd34",
        moment="M1",
        channel="email",
        language="nl",
        subject=rendered.subject,
        body=rendered.body,
        recipient="jelle.testhuis@example.invalid",
        template_version=rendered.version,
    )


def _channel(port: int) -> SmtpChannel:
    return SmtpChannel(
        host="127.0.0.1", port=port, starttls=False, username="", password="", sender="geldzorgen@proefdam.example"
    )


async def test_the_commit_point_comes_after_the_content_and_before_the_relay_takes_the_message(
    smtp_server: tuple[int, Path],
) -> None:
    """ADR 0009: the dispatcher records the e-mail as sent while the relay still holds an unfinished transfer."""
    port, folder = smtp_server
    seen_at_commit: list[int] = []

    async def commit_point() -> None:
        await asyncio.sleep(0.3)  # time for a relay that had taken the message to write it down
        seen_at_commit.append(len(list(folder.glob("*.eml"))))

    handover = await _channel(port).send_with_commit_point(_m1_message("commit-point"), commit_point)

    assert handover.accepted, handover.reason
    assert seen_at_commit == [0], "the relay must not have the message when the dispatcher commits"
    for _ in range(100):
        if list(folder.glob("*.eml")):
            break
        await asyncio.sleep(0.05)
    assert len(list(folder.glob("*.eml"))) == 1


async def test_a_dispatcher_that_dies_at_the_commit_point_leaves_the_relay_nothing_to_deliver(
    smtp_server: tuple[int, Path],
) -> None:
    """Dying before the final dot (here: the commit fails) drops the connection; the relay discards the transfer,
    so handing the still-`sending` notification over again later cannot double it."""
    port, folder = smtp_server

    async def dies() -> None:
        raise RuntimeError("killed between the content and the end of data")

    with pytest.raises(RuntimeError, match="killed"):
        await _channel(port).send_with_commit_point(_m1_message("died"), dies)
    await asyncio.sleep(1.0)
    assert list(folder.glob("*.eml")) == []
