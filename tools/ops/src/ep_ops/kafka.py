"""`ep-ops lag` and `ep-ops dlq replay`: what the consumer groups have not read yet, and putting dead letters
back on the topic they came from (docs/adr/0004: consumers skip what they already processed, so a replay is
safe)."""

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from ep_ops.errors import OpsError
from ep_ops.output import Report
from eviction_schemas.envelope import dlq_topic
from service_kit.outbox import make_producer

# The replay's own consumer group: its committed offsets on a dead-letter topic say what was replayed already.
REPLAY_GROUP_PREFIX = "ep-ops.dlq-replay."
DLQ_HEADER_PREFIX = "dlq-"
ORIGINAL_TOPIC_HEADER = "dlq-original-topic"


def replay_group(group: str) -> str:
    return REPLAY_GROUP_PREFIX + group


async def partitions_of(bootstrap_servers: str, topic: str) -> list[TopicPartition]:
    """The topic's partitions as the brokers know them now (none when the topic does not exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="ep-ops")
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    found = [entry for entry in described if entry.get("topic") == topic and entry.get("error_code", 0) == 0]
    partitions = sorted(partition["partition"] for entry in found for partition in entry.get("partitions", []))
    return [TopicPartition(topic, partition) for partition in partitions]


async def lag(bootstrap_servers: str, groups: Mapping[str, Sequence[str]]) -> Report:
    """Per group, topic and partition: the group's committed offset, the end offset, and the difference.

    A partition the group never committed counts from the earliest offset Kafka still holds."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="ep-ops")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, client_id="ep-ops")
    await admin.start()
    await consumer.start()
    rows: list[dict[str, Any]] = []
    try:
        for group, topics in groups.items():
            committed = {tp: meta.offset for tp, meta in (await admin.list_consumer_group_offsets(group)).items()}
            partitions: set[TopicPartition] = {tp for tp in committed if not topics or tp.topic in topics}
            for topic in topics:
                partitions.update(await partitions_of(bootstrap_servers, topic))
            ordered = sorted(partitions, key=lambda tp: (tp.topic, tp.partition))
            if not ordered:
                continue
            ends = await consumer.end_offsets(ordered)
            beginnings = await consumer.beginning_offsets(ordered)
            for tp in ordered:
                offset = committed.get(tp)
                offset = offset if offset is not None and offset >= 0 else None
                start = offset if offset is not None else beginnings[tp]
                rows.append(
                    {
                        "group": group,
                        "topic": tp.topic,
                        "partition": tp.partition,
                        "committed": offset,
                        "end": ends[tp],
                        "lag": max(0, ends[tp] - start),
                    }
                )
    finally:
        await consumer.stop()
        await admin.close()
    total = sum(row["lag"] for row in rows)
    by_group = {group: sum(row["lag"] for row in rows if row["group"] == group) for group in groups}
    summary = "; ".join(f"{group}: {records} record(s) behind" for group, records in by_group.items())
    return Report(
        columns=["group", "topic", "partition", "committed", "end", "lag"],
        rows=rows,
        summary=summary or "no partitions found",
        totals={"total_lag": total, "lag_by_group": by_group},
    )


def _header(headers: Sequence[tuple[str, bytes]] | None, name: str) -> str | None:
    for key, value in headers or ():
        if key == name:
            return bytes(value).decode("utf-8", "replace")
    return None


async def replay_dead_letters(
    bootstrap_servers: str,
    *,
    group: str,
    topic: str,
    limit: int | None = None,
    dry_run: bool = False,
    timeout_seconds: float = 30.0,
) -> Report:
    """Republish the dead letters of `group` on `topic` that no earlier replay took, oldest first.

    Each record goes back with its original key, value and headers (the dlq-* provenance headers dropped) to the
    topic its dlq-original-topic header names; the replay group's offset is committed after each send, so a
    second run replays nothing. With `dry_run` nothing is sent and nothing committed."""
    source = dlq_topic(topic, group)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=replay_group(group),
        client_id="ep-ops",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = None if dry_run else make_producer(bootstrap_servers, client_id="ep-ops-replay")
    await consumer.start()
    if producer is not None:
        await producer.start()
    rows: list[dict[str, Any]] = []
    try:
        partitions = await partitions_of(bootstrap_servers, source)
        if not partitions:
            raise OpsError(f"there is no dead-letter topic {source}: check --group and --topic")
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)  # what exists now; later dead letters wait for the next run
        deadline = asyncio.get_running_loop().time() + timeout_seconds
        while limit is None or len(rows) < limit:
            waiting = [tp for tp in partitions if await consumer.position(tp) < ends[tp]]
            if not waiting or asyncio.get_running_loop().time() > deadline:
                break
            batches = await consumer.getmany(*waiting, timeout_ms=1000)
            for tp, records in sorted(batches.items(), key=lambda item: item[0].partition):
                for record in records:
                    if record.offset >= ends[tp] or (limit is not None and len(rows) >= limit):
                        break
                    headers = list(record.headers or ())
                    original = _header(headers, ORIGINAL_TOPIC_HEADER) or topic
                    if producer is not None:
                        kept = [(name, value) for name, value in headers if not name.startswith(DLQ_HEADER_PREFIX)]
                        await producer.send_and_wait(original, value=record.value, key=record.key, headers=kept)
                        await consumer.commit({tp: record.offset + 1})
                    rows.append(
                        {
                            "partition": tp.partition,
                            "offset": record.offset,
                            "key": record.key.decode("utf-8", "replace") if record.key else None,
                            "to_topic": original,
                            "reason": _header(headers, "dlq-reason"),
                            "failed_at": _header(headers, "dlq-failed-at"),
                            "action": "would replay" if dry_run else "replayed",
                        }
                    )
    finally:
        if producer is not None:
            await producer.stop()
        await consumer.stop()
    verb = "would replay" if dry_run else "replayed"
    summary = f"{verb} {len(rows)} dead letter(s) from {source}"
    if not rows:
        summary = f"nothing to replay on {source} (replay group {replay_group(group)})"
    return Report(
        columns=["partition", "offset", "key", "to_topic", "reason", "failed_at", "action"],
        rows=rows,
        summary=summary,
        totals={"dead_letter_topic": source, "replayed": 0 if dry_run else len(rows), "dry_run": dry_run},
    )
