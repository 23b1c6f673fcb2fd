"""The topics declared in deploy/topics.yaml, created on a local broker."""

import asyncio
from pathlib import Path
from typing import Any

import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

REPOSITORY_ROOT = Path(__file__).resolve().parents[4]
TOPICS_FILE = REPOSITORY_ROOT / "deploy" / "topics.yaml"


def declared_topics(path: Path = TOPICS_FILE) -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text())["topics"])


async def create_declared_topics(bootstrap_servers: str, path: Path = TOPICS_FILE) -> list[str]:
    """Create the declared topics that are missing (replication factor 1 on a local broker)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=topic["name"],
                num_partitions=int(topic["partitions"]),
                replication_factor=1,
                topic_configs={"retention.ms": str(topic["retention_ms"])},
            )
            for topic in declared_topics(path)
            if topic["name"] not in existing
        ]
        if missing:
            await admin.create_topics(missing)
        return [topic.name for topic in missing]
    finally:
        await admin.close()


def ensure_declared_topics(bootstrap_servers: str) -> list[str]:
    return asyncio.run(create_declared_topics(bootstrap_servers))
