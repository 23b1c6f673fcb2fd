"""Outbox relay throughput: events/s drained from case-api's outbox (real PostgreSQL) to a real Kafka
broker, against a raw aiokafka idempotent producer sending the same records to the same broker.

Target (spec/quality.md): >= 5,000 events/s drained, >= 50 % of the raw producer.
Usage: .venv/bin/python bench/outbox_relay.py [--events 50000] [--batch 1000]
"""

import sys
from pathlib import Path

# bench/case_api.py shares its name with the service's package: keep bench/ off the import path.
sys.path = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]


import argparse  # noqa: E402
import asyncio  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

from aiokafka import AIOKafkaProducer  # noqa: E402

from case_api.db import OutboxRecord  # noqa: E402
from devinfra.kafka import KafkaBroker, ensure_kafka_libs  # noqa: E402
from devinfra.postgres import PostgresCluster  # noqa: E402
from devinfra.topics import create_declared_topics  # noqa: E402
from eviction_schemas.envelope import CASE_EVENTS_TOPIC, make_event  # noqa: E402
from service_kit.db import make_engine, make_session_factory  # noqa: E402
from service_kit.migrations import upgrade_to_head  # noqa: E402
from service_kit.outbox import OutboxRelay, add_event, make_producer  # noqa: E402


def envelope_bytes(case_id: str, sequence: int) -> bytes:
    return make_event(
        event="case.opened",
        source_service="case-api",
        oin="00000001234567890000",
        subject=case_id,
        sequence=sequence,
        data={
            "case_id": case_id,
            "household_id": str(uuid.uuid4()),
            "opened_by": "signal",
            "priority": "normal",
            "has_minors": False,
            "team": "team-bench",
        },
        time=datetime.now(UTC),
    ).to_json_bytes()


async def raw_producer(bootstrap: str, records: list[tuple[str, bytes]]) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5, max_batch_size=256 * 1024
    )
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [
            await producer.send(CASE_EVENTS_TOPIC, value=value, key=key.encode(), headers=[("content-type", b"x")])
            for key, value in records
        ]
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def relay(bootstrap: str, url: str, count: int, batch: int) -> float:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    async with sessions() as session, session.begin():
        for i in range(count):
            case_id = str(uuid.uuid4())
            event = make_event(
                event="case.opened",
                source_service="case-api",
                oin="00000001234567890000",
                subject=case_id,
                sequence=1,
                data={
                    "case_id": case_id,
                    "household_id": str(uuid.uuid4()),
                    "opened_by": "signal",
                    "priority": "normal",
                    "has_minors": False,
                    "team": "team-bench",
                },
                time=datetime.now(UTC),
            )
            add_event(session, OutboxRecord, topic=CASE_EVENTS_TOPIC, event=event, now=datetime.now(UTC))
            if i % 5000 == 4999:
                await session.flush()
    producer = make_producer(bootstrap, client_id="bench-relay")
    await producer.start()
    try:
        outbox_relay = OutboxRelay(session_factory=sessions, model=OutboxRecord, producer=producer, batch_size=batch)
        started = time.perf_counter()
        drained = 0
        while drained < count:
            drained += await outbox_relay.publish_batch()
        elapsed = time.perf_counter() - started
        assert (await outbox_relay.backlog())[0] == 0
        return elapsed
    finally:
        await producer.stop()
        await engine.dispose()


def rss_mib(pid: int | None = None) -> float:
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    ensure_kafka_libs()
    with tempfile.TemporaryDirectory(prefix="ep-bench-") as scratch:
        broker = KafkaBroker(Path(scratch) / "kafka")
        cluster = PostgresCluster(Path(scratch) / "postgres")
        with broker, cluster:
            await create_declared_topics(broker.bootstrap_servers)
            url = cluster.create_database("case_api_bench")
            await asyncio.to_thread(upgrade_to_head, "case_api:migrations", url)
            records = [(str(uuid.uuid4()), envelope_bytes(str(uuid.uuid4()), 1)) for _ in range(args.events)]
            await raw_producer(broker.bootstrap_servers, records[:2000])  # warm up the broker
            raw = await raw_producer(broker.bootstrap_servers, records)
            ours = await relay(broker.bootstrap_servers, url, args.events, args.batch)
            raw_rate, our_rate = args.events / raw, args.events / ours
            print(f"events: {args.events}, relay batch: {args.batch}, payload ~{len(records[0][1])} bytes")
            print(f"baseline  raw aiokafka idempotent producer: {raw_rate:10,.0f} events/s")
            print(f"ours      outbox relay (PostgreSQL -> Kafka): {our_rate:10,.0f} events/s")
            print(f"ratio     ours / baseline: {our_rate / raw_rate:.2f}  (target >= 0.50, and >= 5,000 events/s)")
            print(f"memory    bench process max RSS {rss_mib():.0f} MiB; broker RSS {rss_mib(broker.pid):.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
