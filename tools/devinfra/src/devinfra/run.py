"""`make run`: a local Kafka broker and the three services with their workers, on embedded SQLite.

Ports are overridable: KAFKA_PORT (9092), CASE_API_PORT (8001), NOTIFIER_PORT (8002), GATEWAY_PORT (8003).
The environment's CASE_API_*, NOTIFIER_* and GATEWAY_* variables configure the services (over `.env`), except
what the run itself sets: each service's DATABASE_URL, DATA_DIR and KAFKA_BOOTSTRAP_SERVERS, the notifier's
OUTBOX_DIR, the CASE_API_URL and CASE_API_TOKEN_FILE of the notifier and the gateway, OIDC_* (the development
key) and the workers' METRICS_PORT.
State lives in .local/ (broker data, SQLite files, the outbox of messages, logs); Ctrl-C stops everything.
The services trust the development signing key in .local/dev-oidc (EP_DEV_OIDC_DIR overrides it), the key
`make token` signs with.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from devinfra.kafka import KafkaBroker, ensure_kafka_libs
from devinfra.ports import port_is_free
from devinfra.stack import Stack
from devinfra.topics import REPOSITORY_ROOT, ensure_declared_topics

# The banner's example: a made-up household (fictitious name and address, no BSN) and its landlord's signal.
EXAMPLE_SIGNAL = """{"team": "team-noord",
         "household": {"street": "Proefstraat", "house_number": "1", "postcode": "8911 AB", "city": "Leeuwarden",
           "members": [{"role": "tenant", "given_name": "Jelle", "surname": "Testhuis"}]},
         "signal": {"partner_kind": "housing_corporation", "arrears_amount": "850.00",
           "arrears_since": "2026-01-05", "signal_date": "2026-02-20"}}"""


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=REPOSITORY_ROOT / ".local")
    parser.add_argument(
        "--check",
        action="store_true",
        help="start everything, open a case from a signal, wait for its message in the outbox, then stop "
        "(used by tests)",
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
        inherit_service_env=True,
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stack.ensure_dev_key()  # the services read its JWKS at start; `make token` signs with it
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
  message outbox   {stack.outbox_dir}   (e-mails as .eml, SMS as text, letters as PDF)
  logs             {stack.log_dir}
  signing key      {stack.oidc_dir}   (tokens: make token ROLE=... TEAM=...)
Try it: get a token, report a made-up household's arrears, then look in the message outbox:
  TOKEN=$(make -s token ROLE=team_lead TEAM=team-noord)
  curl -s -X POST {stack.url("case-api")}/v1/signals -H "Authorization: Bearer $TOKEN" \\
       -H 'content-type: application/json' -d '{EXAMPLE_SIGNAL}'
  ls {stack.outbox_dir}
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


def check_signal(team: str) -> dict[str, Any]:
    """The banner's example (so the check proves it works), for `team` and at an address of its own: a rerun on
    the same state opens a new case instead of attaching to the last one."""
    body: dict[str, Any] = json.loads(EXAMPLE_SIGNAL)
    body["team"] = team
    body["household"]["house_number"] = str(uuid.uuid4().int % 10**9 + 1)
    return body


def smoke_check(stack: Stack, timeout: float = 30) -> int:
    """Open a case from a signal over HTTP, with a token, and wait for the notifier's message in the outbox:
    the whole path on SQLite. The example household has a home address only, so its M1 is a letter (PDF): the
    notifier reads the household from case-api and uses no channel without an address, in local mode too."""
    before = set(stack.outbox_dir.glob("*.pdf"))
    team = "team-check"
    response = httpx.post(
        stack.url("case-api") + "/v1/signals",
        json=check_signal(team),
        headers={"Authorization": f"Bearer {stack.token('team_lead', team=team)}"},
        timeout=10,
    )
    if response.status_code != 201:
        print(f"check failed: POST /v1/signals answered {response.status_code}: {response.text}")
        return 1
    if not response.json().get("case_opened"):
        print(f"check failed: the signal attached to an open case instead of opening one: {response.text}")
        return 1
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if set(stack.outbox_dir.glob("*.pdf")) - before:
            print("check passed: a case opened over HTTP reached the message outbox through Kafka")
            print_statistics_min_cell(stack)
            return 0
        time.sleep(0.2)
    print(f"check failed: no message in {stack.outbox_dir} after {timeout}s")
    return 1


def print_statistics_min_cell(stack: Stack) -> None:
    """Say which smallest statistics cell case-api runs with (CASE_API_STATISTICS_MIN_CELL): a setting of the
    environment, seen from outside, so a test can tell that the environment reached the service."""
    response = httpx.get(
        stack.url("case-api") + "/v1/statistics/outcomes",
        headers={"Authorization": f"Bearer {stack.token('policy_analyst')}"},
        timeout=10,
    )
    if response.status_code == 200:
        print(f"case-api statistics min cell: {response.json()['min_cell']}")
    else:
        print(f"case-api statistics unreadable: {response.status_code}: {response.text}")


if __name__ == "__main__":
    sys.exit(main())
