"""`make run`: a local Kafka broker and the three services with their workers, on embedded SQLite.

Ports are overridable: KAFKA_PORT (9092), CASE_API_PORT (8001), NOTIFIER_PORT (8002), GATEWAY_PORT (8003).
State lives in .local/ (broker data, SQLite files, the outbox of messages, logs); Ctrl-C stops everything.
"""

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

import httpx

from devinfra.kafka import KafkaBroker, ensure_kafka_libs
from devinfra.ports import port_is_free
from devinfra.stack import Stack
from devinfra.topics import REPOSITORY_ROOT, ensure_declared_topics


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=REPOSITORY_ROOT / ".local")
    parser.add_argument(
        "--check",
        action="store_true",
        help="start everything, open a case, wait for its message in the outbox, then stop (used by tests)",
    )
    args = parser.parse_args(argv)

    ports = {
        "case-api": _port("CASE_API_PORT", 8001),
        "notifier": _port("NOTIFIER_PORT", 8002),
        "partner-gateway": _port("GATEWAY_PORT", 8003),
    }
    kafka_port = _port("KAFKA_PORT", 9092)
    busy = [f"{name} {port}" for name, port in [*ports.items(), ("kafka", kafka_port)] if not port_is_free(port)]
    if busy:
        print(f"ports in use: {', '.join(busy)}; set KAFKA_PORT / CASE_API_PORT / NOTIFIER_PORT / GATEWAY_PORT")
        return 2

    print("fetching the Kafka broker's jars (once per machine)...", flush=True)
    ensure_kafka_libs()
    broker = KafkaBroker(data_dir=args.state_dir / "kafka", port=kafka_port)
    stack = Stack(
        kafka_bootstrap=broker.bootstrap_servers,
        database_urls={},  # empty: each service uses its embedded SQLite file under .local/data
        ports=ports,
        state_dir=args.state_dir,
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        broker.start()
        ensure_declared_topics(broker.bootstrap_servers)
        stack.migrate()
        stack.start()
        stack.wait_ready(timeout=90)
        print(
            f"""
The eviction-prevention platform is running.
  case-api         {stack.url("case-api")}/docs
  notifier         {stack.url("notifier")}/docs
  partner-gateway  {stack.url("partner-gateway")}/docs
  Kafka            {broker.bootstrap_servers}
  message outbox   {stack.outbox_dir}   (e-mails as .eml, SMS and letters as files)
  logs             {stack.log_dir}
Try:  curl -s -X POST {stack.url("case-api")}/v1/cases -H 'content-type: application/json' \\
        -d '{{"team": "team-noord", "opened_by": "signal"}}'
Ctrl-C stops everything.""",
            flush=True,
        )
        if args.check:
            return smoke_check(stack)
        while not stopping.is_set():
            stopping.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping...", flush=True)
        stack.stop()
        broker.stop()
    return 0


def smoke_check(stack: Stack, timeout: float = 30) -> int:
    """Open a case over HTTP and wait for the notifier's message in the outbox: the whole path on SQLite."""
    before = set(stack.outbox_dir.glob("*.eml"))
    response = httpx.post(
        stack.url("case-api") + "/v1/cases", json={"team": "team-check", "opened_by": "signal"}, timeout=10
    )
    if response.status_code != 201:
        print(f"check failed: POST /v1/cases answered {response.status_code}: {response.text}")
        return 1
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if set(stack.outbox_dir.glob("*.eml")) - before:
            print("check passed: a case opened over HTTP reached the message outbox through Kafka")
            return 0
        time.sleep(0.2)
    print(f"check failed: no message in {stack.outbox_dir} after {timeout}s")
    return 1


if __name__ == "__main__":
    sys.exit(main())
