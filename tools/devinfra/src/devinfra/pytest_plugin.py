"""pytest plugin (loaded by the root pyproject's addopts): the real infrastructure of a test run.

A test asks for `kafka_broker` / `kafka_bootstrap` or `postgres_cluster` / `postgres_url_factory`; the
first request starts the part once per session on free loopback ports and the session stops it by pid.
`refuse_commits` makes a table's commits fail on the real PostgreSQL; `dev_key` signs bearer tokens.

Nothing outlives the run: SIGTERM is turned into KeyboardInterrupt, so pytest still tears the session's
fixtures down (stopping what they started); what a SIGKILLed run left behind is reaped when the next run starts
(devinfra.reaper).
"""

import signal
import threading
from types import FrameType

import pytest

from devinfra import reaper
from devinfra.fixtures_auth import dev_key
from devinfra.fixtures_kafka import kafka_bootstrap, kafka_broker
from devinfra.fixtures_postgres import postgres_cluster, postgres_url_factory, refuse_commits

__all__ = ["dev_key", "kafka_bootstrap", "kafka_broker", "postgres_cluster", "postgres_url_factory", "refuse_commits"]


def _terminated(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the run at once
    raise KeyboardInterrupt(f"stopped by signal {signum}: tearing down what this run started")


def pytest_sessionstart(session: pytest.Session) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminated)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for line in reaper.reap():
        if reporter is not None:
            reporter.write_line(f"reaped {line}")
