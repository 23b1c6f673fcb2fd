"""A cached Kafka reachability probe for /health/ready."""

import asyncio
import contextlib
import time

from aiokafka.admin import AIOKafkaAdminClient


class KafkaProbe:
    """Answers "is Kafka reachable?" at most every `ttl` seconds, so probes do not hammer the broker."""

    def __init__(self, bootstrap_servers: str, *, ttl: float = 5.0, timeout: float = 3.0) -> None:
        self._bootstrap = bootstrap_servers
        self._ttl = ttl
        self._timeout = timeout
        self._checked_at = 0.0
        self._ok = False
        self._lock = asyncio.Lock()

    async def reachable(self) -> bool:
        async with self._lock:
            if time.monotonic() - self._checked_at < self._ttl:
                return self._ok
            self._ok = await self._check()
            self._checked_at = time.monotonic()
            return self._ok

    async def _check(self) -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, request_timeout_ms=int(self._timeout * 1000))
        try:
            await asyncio.wait_for(admin.start(), self._timeout)
            await asyncio.wait_for(admin.describe_cluster(), self._timeout)
        except Exception:
            return False
        finally:
            with contextlib.suppress(Exception):  # closing a half-open client may fail; the answer stands
                await admin.close()
        return True
