"""case-api throughput and latency against a bare FastAPI endpoint with the same driver, in the same run,
on real PostgreSQL, with 1,000 and with 1,000,000 cases in the database (targets: spec/quality.md).

  write: POST /v1/cases/{id}/contact-attempts (locks the case, stores the attempt, updates the case, writes
         the processing log and the outbox row) versus the bare endpoint's one insert
  read:  GET /v1/cases/{id} (the case with household and signals, team check, processing log) versus the bare
         endpoint's one select
Load comes from wrk (Debian package) on loopback; every figure is printed beside its baseline and ratio.
Usage: .venv/bin/python bench/case_api.py [--sizes 1000 1000000] [--seconds 10] [--connections 32]
"""

import sys
from pathlib import Path

# This script's own name is the service's package name: keep bench/ off the import path.
sys.path = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from devinfra.devkey import DevKey  # noqa: E402
from devinfra.ports import free_port  # noqa: E402
from devinfra.postgres import PostgresCluster  # noqa: E402
from service_kit.migrations import upgrade_to_head  # noqa: E402

BENCH = Path(__file__).resolve().parent
TEAM = "team-bench"
LOGS = Path(tempfile.gettempdir()) / "ep-bench-logs"

H, M, C = "'00000000-0000-4000-9000-'", "'00000000-0000-4000-a000-'", "'00000000-0000-4000-8000-'"
N = "lpad(n::text, 12, '0')"
SEED = f"""
INSERT INTO household (id, street, house_number, house_number_suffix, postcode, city, address_key,
                       preferred_channel, language, created_at)
SELECT {H} || {N}, 'Proefstraat', (n % 999 + 1)::text, '', '8911 AB', 'Leeuwarden', '8911AB|' || n, 'letter',
       'nl', now()
FROM generate_series($1::int, $2::int) AS n;
INSERT INTO household_member (id, household_id, position, role, initials, given_name, surname_prefix, surname,
                              birth_date)
SELECT {M} || {N}, {H} || {N}, 0, 'tenant', 'T.', 'Test', '', 'Bewoner', date '1980-01-01' + (n % 9000)
FROM generate_series($1::int, $2::int) AS n;
INSERT INTO "case" (id, household_id, team, stage, priority, has_minors, consecutive, multiple, crisis, opened_by,
                    opened_at, updated_at, last_event_sequence)
SELECT {C} || {N}, {H} || {N}, $3, 'outreach', 'normal', false, false, false, false, 'signal', now(), now(), 0
FROM generate_series($1::int, $2::int) AS n;
"""


def case_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


async def seed(dsn: str, total: int) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        existing = await connection.fetchval('SELECT count(*) FROM "case"')
        step = 100_000
        for first in range(existing + 1, total + 1, step):
            last = min(first + step - 1, total)
            async with connection.transaction():
                for statement in filter(str.strip, SEED.split(";\n")):
                    parameters = (first, last, TEAM) if "$3" in statement else (first, last)
                    await connection.execute(statement, *parameters)
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS bare_write (id text primary key, case_id text, created_at timestamptz)"
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def serve(argv: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{argv} did not start; see {log}")


def wrk(url: str, *, seconds: int, connections: int, script: Path, ids_file: Path, token: str) -> dict[str, float]:
    env = {**os.environ, "BENCH_IDS": str(ids_file), "BENCH_TOKEN": token, "BENCH_DIR": str(BENCH)}
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    percentiles = {p: _ms(m) for p, m in re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M)}
    return {"rate": rate, "p50": percentiles.get("50", 0.0), "p99": percentiles.get("99", 0.0),
            "errors": float(errors.group(1)) if errors else 0.0}  # fmt: skip


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 1_000_000])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    LOGS.mkdir(exist_ok=True)
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="ep-bench-case-api-") as scratch:
        cluster = PostgresCluster(Path(scratch) / "postgres")
        key = DevKey.ensure(Path(scratch) / "oidc")
        token = key.mint_token(["team_lead"], team=TEAM, subject="bench")
        with cluster:
            url = cluster.create_database("case_api_bench")
            upgrade_to_head("case_api:migrations", url)
            dsn = url.replace("postgresql+asyncpg", "postgresql")
            api_port, bare_port = free_port(), free_port()
            env = {**os.environ, "CASE_API_DATABASE_URL": url, "OIDC_JWKS_URL": str(key.jwks_path),
                   "BARE_DATABASE_URL": url, "PYTHONPATH": str(BENCH / "baseline")}  # fmt: skip
            print(f"case-api benchmark: wrk -t2 -c{args.connections} -d{args.seconds}s, 1 uvicorn worker each\n")
            for size in args.sizes:
                started = time.monotonic()
                asyncio.run(seed(dsn, size))
                print(f"== {size:,} cases in the database (seeded in {time.monotonic() - started:.0f} s)")
                ids = Path(scratch) / "ids.txt"
                ids.write_text("\n".join(case_id(random.randint(1, size)) for _ in range(5000)) + "\n")
                uvicorn = [sys.executable, "-m", "uvicorn", "--factory", "--no-access-log", "--log-level", "warning"]
                api = serve(
                    [*uvicorn, "case_api.main:create_app", "--port", str(api_port)],
                    env,
                    api_port,
                    LOGS / "case-api.log",
                )
                bare = serve(
                    [*uvicorn, "bare_app:create_app", "--port", str(bare_port)], env, bare_port, LOGS / "bare.log"
                )
                try:
                    for kind, ours_script, bare_script in (
                        ("write", "wrk_contact_attempt.lua", "wrk_bare_write.lua"),
                        ("read", "wrk_read_case.lua", "wrk_bare_read.lua"),
                    ):
                        common = {"seconds": args.seconds, "connections": args.connections, "ids_file": ids,
                                  "token": token}  # fmt: skip
                        base = wrk(f"http://127.0.0.1:{bare_port}", script=BENCH / bare_script, **common)  # type: ignore[arg-type]
                        ours = wrk(f"http://127.0.0.1:{api_port}", script=BENCH / ours_script, **common)  # type: ignore[arg-type]
                        print(
                            f"  {kind:5}  baseline {base['rate']:7.0f} req/s p50 {base['p50']:6.1f} ms p99 "
                            f"{base['p99']:6.1f} ms | case-api {ours['rate']:7.0f} req/s p50 {ours['p50']:6.1f} ms "
                            f"p99 {ours['p99']:6.1f} ms | ratio {ours['rate'] / base['rate']:.2f}"
                            + (f" | errors {ours['errors']:.0f}" if ours["errors"] else "")
                        )
                    print(f"  memory: case-api RSS {rss_mib(api.pid):.0f} MiB, bare RSS {rss_mib(bare.pid):.0f} MiB")
                finally:
                    for process in (api, bare):
                        process.terminate()
                        process.wait(10)


if __name__ == "__main__":
    main()
