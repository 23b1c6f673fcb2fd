"""A token bucket per partner, kept in the gateway's database so that it holds across API processes.

Each take is one statement in a short transaction of its own: an upsert that refills the bucket for the time
passed since its last take (at `rate` per second, up to `burst`) and takes `cost` tokens only where enough are
there (`INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING`). Under concurrency the row lock orders the takes
of one partner, so N replicas together allow the limit once, not N times. Committed at once, before the message
itself is stored: a message refused later (a bad schema) has still cost its token, as load on the gateway does.
Times are seconds of the injected clock (a float), so tests move them and SQLite needs no date arithmetic.
"""

import math
from collections.abc import Callable
from http import HTTPStatus

from sqlalchemy import ColumnElement, Executable, Float, String, case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from partner_gateway.db import Base
from service_kit.clock import Clock
from service_kit.errors import DomainError


class TooManyMessages(DomainError):
    status = HTTPStatus.TOO_MANY_REQUESTS
    code = "too-many-messages"
    title = "Over your rate limit"
    fix = "Wait the `Retry-After` seconds, then send again with the same `webhook-id` (nothing is lost)."

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class RateBucket(Base):
    """The tokens one partner has left in one limiter (`inbound`, `signal-files`) at `updated_at`."""

    __tablename__ = "rate_bucket"

    limiter: Mapped[str] = mapped_column(String(40), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float(precision=53))
    # Seconds since the epoch on the clock of the process that took last.
    updated_at: Mapped[float] = mapped_column(Float(precision=53))


Sessions = Callable[[], async_sessionmaker[AsyncSession]]


class RateLimiter:
    """`rate` messages (or other `unit`s) per second per partner on average, bursts up to `burst`, shared by every
    process on the same database. `sessions` gives the app's session factory (set by its lifespan)."""

    def __init__(
        self, *, name: str, rate: float, burst: int, clock: Clock, sessions: Sessions, unit: str = "messages"
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self._name = name
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._sessions = sessions
        self._unit = unit

    async def take(self, partner_id: str, cost: float = 1.0) -> None:
        """`cost` tokens of the partner's bucket (one message; a signal file's bytes), or 429 with the seconds until
        there are enough (Retry-After)."""
        now = self._clock.now().timestamp()
        async with self._sessions()() as session, session.begin():
            if cost <= self._burst:
                taken = await session.execute(self._take_statement(session, partner_id, cost, now))
                if taken.first() is not None:
                    return
            left = await session.scalar(
                select(self._refilled(now)).where(RateBucket.limiter == self._name, RateBucket.partner_id == partner_id)
            )
        tokens = self._burst if left is None else float(left)
        retry_after = max(1, math.ceil((min(cost, self._burst) - tokens) / self._rate))
        raise TooManyMessages(
            f"more than {self._burst:g} {self._unit} at once or {self._rate:g} per second on average; "
            f"retry after {retry_after} s",
            retry_after=retry_after,
        )

    def _refilled(self, now: float) -> ColumnElement[float]:
        """The bucket's tokens at `now`: what was left plus what flowed in since, never more than the burst."""
        bucket = RateBucket.__table__.c
        elapsed = case((bucket.updated_at < now, now - bucket.updated_at), else_=0.0)
        refilled = bucket.tokens + elapsed * self._rate
        return case((refilled > self._burst, self._burst), else_=refilled)

    def _take_statement(self, session: AsyncSession, partner_id: str, cost: float, now: float) -> Executable:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        bucket = RateBucket.__table__.c
        refilled = self._refilled(now)
        insert = dialect.insert(RateBucket).values(
            limiter=self._name, partner_id=partner_id, tokens=self._burst - cost, updated_at=now
        )
        statement: Executable = insert.on_conflict_do_update(
            index_elements=[bucket.limiter, bucket.partner_id],
            set_={
                "tokens": refilled - cost,
                "updated_at": case((bucket.updated_at < now, now), else_=bucket.updated_at),
            },
            where=refilled >= cost,
        ).returning(bucket.tokens)
        return statement
