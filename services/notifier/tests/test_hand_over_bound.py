"""A hand-over that never ends (a channel or relay that stops answering) does not hold up the dispatch round: it
ends as a temporary failure after the dispatcher's hand-over timeout and the other notifications go on; one
already recorded as sent at its commit point stays sent, never handed over again (docs/adr/0009)."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from notifier.channels.base import HandOver, OutgoingMessage
from notifier.notifications.models import Status

pytestmark = pytest.mark.postgres

# Far above what a round of this test takes without a stuck hand-over; the stuck one waits for ever.
ROUND_DEADLINE = 60


class StuckChannel:
    """An e-mail channel whose relay stops answering: before the commit point, or after it (the end of data
    written, its answer never read)."""

    name = "email"
    timeout_seconds = 0.1

    def __init__(self, *, after_commit_point: bool) -> None:
        self._after_commit_point = after_commit_point
        self.handed: list[str] = []

    async def send(self, message: OutgoingMessage) -> HandOver:
        raise AssertionError("the dispatcher uses the commit point of a channel that has one")

    async def send_with_commit_point(
        self, message: OutgoingMessage, commit_point: Callable[[], Awaitable[None]]
    ) -> HandOver:
        self.handed.append(message.notification_id)
        if self._after_commit_point:
            await commit_point()
        await asyncio.Event().wait()  # no answer, ever
        raise AssertionError("unreachable")


@pytest.mark.parametrize("after_commit_point", [False, True], ids=["before-commit-point", "after-commit-point"])
async def test_a_stuck_hand_over_ends_and_the_round_goes_on(
    after_commit_point: bool,
    apply_events: Any,
    events: Any,
    helpers: Any,
    make_dispatcher: Any,
    channels: Any,
    ledger: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    opened = events.opened()
    await apply_events(opened)
    stuck = StuckChannel(after_commit_point=after_commit_point)
    dispatcher = make_dispatcher(channels={**channels, "email": stuck}, hand_over_timeout=0.5)

    async with asyncio.timeout(ROUND_DEADLINE):
        done = await dispatcher.run_once(helpers.opened_at)

    by_channel = {n.channel: n for n in await ledger.notifications(opened.subject)}
    assert (by_channel["letter"].status, by_channel["sms"].status) == (Status.sent, Status.sent)
    email = by_channel["email"]
    assert stuck.handed == [email.id]
    if after_commit_point:
        # Its end of data may have reached the relay: handing it over again could send it twice.
        assert (email.status, done.handed, done.failed) == (Status.sent, 3, 0)
        assert "stays sent without the relay's answer" in caplog.text
    else:
        assert (email.status, email.reason, done.handed, done.failed) == (
            Status.temporary_failure,
            "hand_over_timeout",
            2,
            1,
        )
        assert "ended as a temporary failure" in caplog.text
    assert "longer than the channel's timeout" in caplog.text


def test_the_default_lease_outlasts_a_whole_hand_over_and_a_shorter_one_is_warned_about(
    caplog: pytest.LogCaptureFixture, sessions: Any
) -> None:
    """A second dispatcher takes over a `sending` notification after the lease; were the lease shorter than one
    hand-over may take, it could take over an e-mail the first is still handing over and send it twice."""
    from notifier.config import Settings
    from notifier.workers.dispatcher import dispatcher_for, hand_over_timeout_of

    defaults = Settings(_env_file=None)
    assert defaults.sending_lease_seconds > hand_over_timeout_of(defaults)
    with caplog.at_level("WARNING", logger="notifier.workers.dispatcher"):
        dispatcher_for(defaults, sessions, channels={}, contacts=None)
        assert not caplog.records
        dispatcher_for(defaults.model_copy(update={"sending_lease_seconds": 120.0}), sessions, channels={})
    [warning] = caplog.records
    assert "NOTIFIER_SENDING_LEASE_SECONDS" in warning.getMessage()
