"""A token bucket per partner, in this process's memory.

Good enough for one API process: with N processes a partner gets N times the rate. A shared limit (the
database or a proxy in front) is the step when the gateway runs more than one API process.
"""

import math
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus

from service_kit.clock import Clock
from service_kit.errors import DomainError


class TooManyMessages(DomainError):
    status = HTTPStatus.TOO_MANY_REQUESTS
    code = "too-many-messages"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


@dataclass
class _Bucket:
    tokens: float
    updated_at: datetime


class RateLimiter:
    """`rate` messages (or other `unit`s) per second per partner on average, bursts up to `burst`."""

    def __init__(self, *, rate: float, burst: int, clock: Clock, unit: str = "messages") -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._unit = unit
        self._buckets: dict[str, _Bucket] = {}

    def take(self, partner_id: str, cost: float = 1.0) -> None:
        """`cost` tokens of the partner's bucket (one message; a signal file's bytes), or 429 with the seconds until
        there are enough (Retry-After)."""
        now = self._clock.now()
        bucket = self._buckets.get(partner_id)
        if bucket is None:
            bucket = self._buckets[partner_id] = _Bucket(self._burst, now)
        elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
        bucket.tokens = min(self._burst, bucket.tokens + elapsed * self._rate)
        bucket.updated_at = now
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return
        retry_after = max(1, math.ceil((min(cost, self._burst) - bucket.tokens) / self._rate))
        raise TooManyMessages(
            f"more than {self._burst:g} {self._unit} at once or {self._rate:g} per second on average; "
            f"retry after {retry_after} s",
            retry_after=retry_after,
        )
