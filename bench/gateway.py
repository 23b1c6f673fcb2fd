"""partner-gateway throughput on real PostgreSQL (targets: spec/quality.md), every figure beside its baseline:

  inbound:  signed partner messages per second through the real API (uvicorn; signature, schema, store) against a
            bare FastAPI endpoint storing the same body with the same driver; wrk posts pre-signed messages (one
            webhook-id each, signed just before the run, well inside the 5-minute tolerance)
  outbound: deliveries per second by the delivery worker (`python -m partner_gateway.workers.delivery`) to a
            local asyncio receiver, against that receiver's own ceiling measured with wrk
  batch:    a signal file of 100,000 made-up rows posted to the API, timed end to end (target < 60 s)
Usage: .venv/bin/python bench/gateway.py [--seconds 10] [--connections 32] [--deliveries 20000] [--rows 100000]
"""

import sys
from pathlib import Path

# Keep bench/ off the import path (bench/case_api.py shares its name with a service package).
sys.path = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import base64  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from standardwebhooks.webhooks import Webhook  # noqa: E402

from devinfra.ports import free_port  # noqa: E402
from devinfra.postgres import PostgresCluster  # noqa: E402
from eviction_schemas.envelope import make_event  # noqa: E402
from eviction_schemas.registry import load_sample  # noqa: E402
from partner_gateway.deliveries.service import fan_out  # noqa: E402
from partner_gateway.inbound.models import ReferenceMap  # noqa: E402
from partner_gateway.partners import service as registry  # noqa: E402
from partner_gateway.partners.models import PartnerKind  # noqa: E402
from partner_gateway.partners.schemas import PartnerCreate, SubscriptionCreate  # noqa: E402
from partner_gateway.signal_files.parsing import COLUMNS  # noqa: E402
from service_kit.clock import SystemClock  # noqa: E402
from service_kit.db import make_engine, make_session_factory  # noqa: E402
from service_kit.migrations import upgrade_to_head  # noqa: E402
from service_kit.settings import DEVELOPMENT_OIN  # noqa: E402

BENCH = Path(__file__).resolve().parent
LOGS = Path(tempfile.gettempdir()) / "ep-bench-logs"
PARTNER = "woonbench"


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def seed(url: str, *, inbound_secret: str, receiver: str, deliveries: int) -> None:
    """The partner, its subscription to case.opened at the receiver, its cases, and one pending delivery each."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    clock = SystemClock()
    try:
        async with sessions() as session, session.begin():
            await registry.register_partner(
                session,
                request=PartnerCreate(
                    id=PARTNER,
                    name="Woonbench",
                    kind=PartnerKind.housing_corporation,
                    outbound_secret=new_secret(),
                    inbound_secret=inbound_secret,
                ),
                clock=clock,
            )
            await registry.subscribe(
                session,
                partner_id=PARTNER,
                request=SubscriptionCreate.model_validate({"event_types": ["case.opened"], "callback_url": receiver}),
                clock=clock,
            )
        data = load_sample("case.opened")["data"]
        for first in range(0, deliveries, 2000):
            async with sessions() as session, session.begin():
                for n in range(first, min(first + 2000, deliveries)):
                    case_id = f"00000000-0000-4000-8000-{n:012d}"
                    now = clock.now()
                    session.add(
                        ReferenceMap(partner_id=PARTNER, reference=f"B-{n}", case_id=case_id, created_at=now,
                                     updated_at=now)
                    )  # fmt: skip
                    event = make_event(
                        event="case.opened", source_service="case-api", oin=DEVELOPMENT_OIN, subject=case_id,
                        sequence=1, time=now, data={**data, "case_id": case_id} if "case_id" in data else data,
                    )  # fmt: skip
                    await fan_out(session, event=event, clock=clock)
    finally:
        await engine.dispose()


def arrears_message(n: int) -> str:
    today = datetime.now(UTC).date().isoformat()
    return json.dumps(
        {
            "type": "arrears.reported",
            "reference": f"HUUR-{n:08d}",
            "occurred_at": f"{today}T09:00:00Z",
            "data": {
                "initials": "J.",
                "surname": "Testhuis",
                "street": "Proefstraat",
                "house_number": str(n % 999 + 1),
                "postcode": "8911 AB",
                "city": "Leeuwarden",
                "email": "j.testhuis@example.invalid",
                "arrears_amount": "850.00",
                "arrears_since": "2026-09-01",
                "signal_date": today,
            },
        },
        separators=(",", ":"),
    )


def signed_lines(path: Path, secret: str, count: int) -> None:
    """webhook-id, timestamp, signature and body per line, signed now (the 5-minute tolerance covers the run)."""
    webhook = Webhook(secret)
    at = datetime.now(UTC)
    with path.open("w") as out:
        for n in range(count):
            body = arrears_message(n)
            webhook_id = f"msg_{uuid.uuid4().hex}"
            out.write(f"{webhook_id}\t{int(at.timestamp())}\t{webhook.sign(webhook_id, at, body)}\t{body}\n")


def signal_file(rows: int) -> str:
    row = {"initials": "J.", "surname_prefix": "van", "surname": "Testhuis", "street": "Proefstraat",
           "house_number_suffix": "", "postcode": "8911 AB", "city": "Leeuwarden",
           "email": "j.testhuis@example.invalid", "mobile": "0612345678", "arrears_since": "2026-09-01",
           "signal_date": "2026-11-02", "crisis": "no", "consent_given": "yes"}  # fmt: skip
    lines = [";".join(COLUMNS)]
    for n in range(1, rows + 1):
        values = {**row, "reference": f"HUUR-{n:08d}", "house_number": str(n % 999 + 1),
                  "arrears_amount": f"{n % 5000 + 100},{n % 100:02d}"}  # fmt: skip
        lines.append(";".join(values[name] for name in COLUMNS))
    return "\n".join(lines) + "\n"


def serve(argv: list[str], env: dict[str, str], port: int, log: Path, probe: str = "/docs") -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{argv} did not start; see {log}")


def wrk(url: str, *, seconds: int, connections: int, script: Path, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        env={**os.environ, **env, "BENCH_THREADS": "2"}, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(\w+)", out, re.M)
    unit = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {"rate": rate, "total": float(total), "errors": float(errors.group(1)) if errors else 0.0,
            "p99": float(p99.group(1)) * unit[p99.group(2)] if p99 else 0.0}  # fmt: skip


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def scalar(dsn: str, query: str) -> object:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchval(query)
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--delivery-workers", type=int, default=1, help="delivery worker processes side by side")
    args = parser.parse_args()
    LOGS.mkdir(exist_ok=True)
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    processes: list[subprocess.Popen[bytes]] = []
    with (
        tempfile.TemporaryDirectory(prefix="ep-bench-gateway-") as scratch,
        PostgresCluster(Path(scratch) / "postgres") as cluster,
    ):
        try:
            url = cluster.create_database("gateway_bench")
            upgrade_to_head("partner_gateway:migrations", url)
            dsn = url.replace("postgresql+asyncpg", "postgresql")
            asyncio.run(
                scalar(dsn, "CREATE TABLE bare_message (id text primary key, body text, created_at timestamptz)")
            )
            secret = new_secret()
            receiver_port, api_port, bare_port = free_port(), free_port(), free_port()
            receiver_url = f"http://127.0.0.1:{receiver_port}/hooks"
            started = time.monotonic()
            asyncio.run(seed(url, inbound_secret=secret, receiver=receiver_url, deliveries=args.deliveries))
            print(f"partner-gateway benchmark ({args.deliveries:,} deliveries seeded in "
                  f"{time.monotonic() - started:.0f} s); wrk -t2 -c{args.connections} -d{args.seconds}s\n")  # fmt: skip
            env = {**os.environ, "GATEWAY_DATABASE_URL": url, "BARE_DATABASE_URL": url,
                   "PYTHONPATH": str(BENCH / "baseline"),
                   # The per-partner rate limit would answer 429 long before the ceiling is reached.
                   "GATEWAY_INBOUND_RATE_PER_SECOND": "1000000", "GATEWAY_INBOUND_RATE_BURST": "1000000"}  # fmt: skip
            uvicorn = [sys.executable, "-m", "uvicorn", "--factory", "--no-access-log", "--log-level", "warning"]
            api = serve([*uvicorn, "partner_gateway.main:create_app", "--port", str(api_port)], env, api_port,
                        LOGS / "gateway.log")  # fmt: skip
            processes.append(api)
            bare = serve([*uvicorn, "bare_gateway:create_app", "--port", str(bare_port)], env, bare_port,
                         LOGS / "bare-gateway.log")  # fmt: skip
            processes.append(bare)

            # --- inbound ---
            lines = Path(scratch) / "messages.tsv"
            signed_lines(lines, secret, args.seconds * 5000)
            script = BENCH / "wrk_signed_messages.lua"
            base, ours = (
                wrk(f"http://127.0.0.1:{port}", env={"BENCH_MESSAGES": str(lines), "BENCH_PATH": path},
                    seconds=args.seconds, connections=args.connections, script=script)
                for port, path in ((bare_port, "/bare/messages"), (api_port, f"/v1/partners/{PARTNER}/messages"))
            )  # fmt: skip
            stored = asyncio.run(scalar(dsn, "SELECT count(*) FROM inbound_message"))
            print(f"inbound   baseline {base['rate']:7.0f} req/s p99 {base['p99']:6.1f} ms | gateway "
                  f"{ours['rate']:7.0f} req/s p99 {ours['p99']:6.1f} ms | ratio {ours['rate'] / base['rate']:.2f} | "
                  f"stored {stored:,} of "
                  f"{ours['total']:,.0f} completed requests"
                  + (f" | non-2xx {ours['errors']:.0f}" if ours["errors"] else ""))  # fmt: skip
            print(f"          memory: gateway RSS {rss_mib(api.pid):.0f} MiB, bare RSS {rss_mib(bare.pid):.0f} MiB")

            # --- outbound ---
            receiver = subprocess.Popen([sys.executable, str(BENCH / "webhook_receiver.py"), str(receiver_port)])
            processes.append(receiver)
            time.sleep(0.5)
            ceiling = wrk(f"http://127.0.0.1:{receiver_port}/hooks", env={}, seconds=args.seconds,
                          connections=args.connections, script=BENCH / "wrk_webhook_receiver.lua")  # fmt: skip
            worker_started = time.monotonic()
            with (LOGS / "gateway-delivery.log").open("ab") as log:
                workers = [
                    subprocess.Popen([sys.executable, "-m", "partner_gateway.workers.delivery"], env=env, stdout=log,
                                     stderr=subprocess.STDOUT)
                    for _ in range(args.delivery_workers)
                ]  # fmt: skip
            processes.extend(workers)
            worker = workers[0]
            query = "SELECT count(*) FROM delivery WHERE status = 'delivered'"
            while (done := int(asyncio.run(scalar(dsn, query)))) < args.deliveries:  # type: ignore[call-overload]
                if time.monotonic() - worker_started > 600 or worker.poll() is not None:
                    break
                time.sleep(0.5)
            wall = time.monotonic() - worker_started
            span = asyncio.run(
                scalar(dsn, "SELECT extract(epoch FROM max(delivered_at) - min(delivered_at)) FROM delivery")
            )
            rate = done / float(span) if span else 0.0  # type: ignore[arg-type]
            print(f"outbound  receiver ceiling {ceiling['rate']:7.0f} req/s | delivery worker {rate:7.0f} deliveries/s "
                  f"({done:,} of {args.deliveries:,} delivered; {wall:.1f} s with start-up) | ratio "
                  f"{rate / ceiling['rate']:.3f} | {args.delivery_workers} worker(s), RSS "
                  f"{rss_mib(worker.pid):.0f} MiB each")  # fmt: skip

            # --- batch ---
            text = signal_file(args.rows)
            at = datetime.now(UTC)
            webhook_id = f"msg_{uuid.uuid4().hex}"
            headers = {"content-type": "text/csv", "webhook-id": webhook_id,
                       "webhook-timestamp": str(int(at.timestamp())),
                       "webhook-signature": Webhook(secret).sign(webhook_id, at, text)}  # fmt: skip
            started = time.monotonic()
            answer = httpx.post(f"http://127.0.0.1:{api_port}/v1/partners/{PARTNER}/signal-files",
                                content=text.encode(), headers=headers, timeout=300)  # fmt: skip
            took = time.monotonic() - started
            report = answer.json()
            print(f"batch     signal file of {args.rows:,} rows ({len(text) / 1e6:.1f} MB): {answer.status_code} in "
                  f"{took:.1f} s ({args.rows / took:,.0f} rows/s), accepted {report.get('accepted', 0):,} "
                  f"(target < 60 s) | gateway RSS {rss_mib(api.pid):.0f} MiB")  # fmt: skip
        finally:
            for process in reversed(processes):
                process.terminate()
                process.wait(10)


if __name__ == "__main__":
    main()
