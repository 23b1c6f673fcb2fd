"""Session fixtures for a real Kafka broker: one per test session, started on first request, stopped by pid.

With EP_TEST_KAFKA_BOOTSTRAP set (host:port of a running broker) `kafka_bootstrap` uses that broker and
starts nothing; `kafka_broker` always starts its own, since a test that asks for it wants to control it.
"""

import os
from collections.abc import Iterator

import pytest

from devinfra.kafka import KafkaBroker


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A started broker in the session's tmp dir (its logs stay there for a failed run)."""
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> str:
    """Host:port of the session's broker: EP_TEST_KAFKA_BOOTSTRAP, else the one kafka_broker starts."""
    existing = os.environ.get("EP_TEST_KAFKA_BOOTSTRAP")
    if existing:
        return existing
    broker: KafkaBroker = request.getfixturevalue("kafka_broker")
    return broker.bootstrap_servers
