"""Notifier pipeline (issue 4 point 8): case events per second from a case event on Kafka to its messages handed to
a channel, and the latency of each message, against a raw produce-consume round trip on the same broker in the
same run (targets: spec/quality.md, >= 1,000 events/s sustained, p99 latency < 1 s).

  baseline: N case.opened envelopes produced with aiokafka (idempotent, acks=all, as the outbox relay does) and
            consumed in a consumer group with manual commits, in this process; latency = consumed - produced.
  notifier: N case.opened events (opened_by "signal": moment M1) produced to the case-events topic, handled by the
            real worker processes `python -m notifier.workers.consumer` and `python -m notifier.workers.dispatcher`
            on a fresh migrated PostgreSQL database, channel mode local (every message a file in the outbox folder,
            rendered for the placeholder household: a letter PDF, an SMS and an e-mail per case). Throughput runs
            from the first produce to the poll that sees the last M1 notification `sent`; latency per message =
            the notification's sent_at - the event's `time` (= its produce time). sent_at is the instant the
            channel took the message (the dispatcher's clock after the hand-over); it is committed with the rest
            of its round, so the latency to the outbox file's mtime (the file written) is printed beside it.
Quiet hours are switched off for the run (NOTIFIER_QUIET_HOURS_START=END=0), so no SMS waits for the morning and
the figure does not depend on the hour. A run that has not drained by --max-seconds reports what it sent by then.
Printed beside the figures: the consumer stage's own rate, the CPU seconds each process used during the measured
run (consumer, dispatcher, PostgreSQL with its backends, broker), and each worker's peak RSS (VmHWM; target
<= 200 MB per service process). --letter stub replaces the letter PDF by a few fixed bytes in the dispatcher
process (no service code changed) to show the PDF's share; --profile runs each worker under cProfile.
Usage: .venv/bin/python bench/notifier.py [--events 5000] [--rate 0] [--max-seconds 60] [--batch-size N]
                                          [--letter pdf|stub] [--relay] [--profile]
"""

import sys
from pathlib import Path

# This script's own name is the service's package name: keep bench/ off the import path.
sys.path = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

import asyncpg  # type: ignore[import-untyped]  # noqa: E402
from aiokafka import AIOKafkaConsumer  # noqa: E402

from devinfra.kafka import KafkaBroker, create_topics, ensure_kafka_libs  # noqa: E402
from devinfra.postgres import PostgresCluster  # noqa: E402
from devinfra.topics import create_declared_topics  # noqa: E402
from eviction_schemas.envelope import CASE_EVENTS_TOPIC, CloudEvent, make_event  # noqa: E402
from eviction_schemas.registry import validate_cloud_event  # noqa: E402
from notifier.channels.file_outbox import SUFFIX  # noqa: E402
from service_kit.migrations import upgrade_to_head  # noqa: E402
from service_kit.outbox import STRUCTURED_CONTENT_TYPE, make_producer  # noqa: E402
from service_kit.settings import DEVELOPMENT_OIN  # noqa: E402

LOGS = Path(tempfile.gettempdir()) / "ep-bench-logs"
RAW_TOPIC = "bench.raw-round-trip"
PARTITIONS = 12  # as the case-events topic in deploy/topics.yaml
MEASURED = "00000000-0000-4000-8000-"  # case ids of the measured events
WARM_UP = "00000000-0000-4000-9000-"  # case ids of the warm-up events
CHANNELS = 3  # letter, sms, e-mail: M1 to the placeholder household
# The letter channel without its PDF: the file channel writes a few fixed bytes (shows the PDF's share).
STUB_DISPATCHER = (
    "import notifier.channels.file_outbox as outbox\n"
    "outbox.render_letter_pdf = lambda message, *, sender, written_on: b'%PDF-1.4 bench stub\\n'\n"
    "from notifier.workers.dispatcher import main\n"
    "main()\n"
)


def case_id(prefix: str, n: int) -> str:
    return f"{prefix}{n:012d}"


def case_opened(subject: str) -> tuple[bytes, float]:
    """A case.opened envelope as case-api's relay publishes it, stamped now; and that instant."""
    now = datetime.now(UTC)
    event = make_event(
        event="case.opened",
        source_service="case-api",
        oin=DEVELOPMENT_OIN,
        subject=subject,
        sequence=1,
        data={
            "case_id": subject,
            "household_id": str(uuid.uuid4()),
            "opened_by": "signal",
            "priority": "normal",
            "has_minors": False,
            "team": "team-bench",
        },
        time=now,
    )
    return event.to_json_bytes(), now.timestamp()


async def produce(bootstrap: str, topic: str, subjects: list[str], rate: float) -> dict[str, float]:
    """Send one case.opened per subject (paced at `rate` events/s when > 0); the produce instant of each."""
    producer = make_producer(bootstrap, client_id="bench-producer")
    await producer.start()
    produced: dict[str, float] = {}
    try:
        started = time.monotonic()
        futures = []
        for n, subject in enumerate(subjects):
            if rate > 0 and (wait := started + n / rate - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            value, at = case_opened(subject)
            produced[subject] = at
            headers = [("content-type", STRUCTURED_CONTENT_TYPE.encode())]
            futures.append(await producer.send(topic, value=value, key=subject.encode(), headers=headers))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return produced


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@dataclass
class Figures:
    events: int  # produced
    done: int  # events fully handled (the baseline: consumed; the notifier: every M1 message sent)
    seconds: float  # first produce to the last one done (or to the deadline)
    latencies: list[float] = field(default_factory=list)  # seconds, per message

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000


# ---------------------------------------------------------------------------------------------- baseline


async def round_trip(bootstrap: str, consumer: AIOKafkaConsumer, subjects: list[str], rate: float) -> Figures:
    latencies: list[float] = []
    last = 0.0

    async def consume() -> None:
        nonlocal last
        while len(latencies) < len(subjects):
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            for records in batches.values():
                for record in records:
                    last = time.time()
                    latencies.append(last - record.timestamp / 1000)  # CreateTime: stamped at send()
            if batches:
                await consumer.commit()

    task = asyncio.create_task(consume())
    started = time.time()
    await produce(bootstrap, RAW_TOPIC, subjects, rate)
    await asyncio.wait_for(task, timeout=120)
    return Figures(events=len(subjects), done=len(latencies), seconds=last - started, latencies=latencies)


async def baseline(bootstrap: str, count: int, rate: float) -> Figures:
    await create_topics(bootstrap, {RAW_TOPIC: PARTITIONS})
    consumer = AIOKafkaConsumer(
        RAW_TOPIC,
        bootstrap_servers=bootstrap,
        group_id="bench-raw",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",  # as service_kit.consumer reads
    )
    await consumer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        await round_trip(bootstrap, consumer, [str(uuid.uuid4()) for _ in range(500)], 0)  # warm-up
        return await round_trip(bootstrap, consumer, [str(uuid.uuid4()) for _ in range(count)], rate)
    finally:
        await consumer.stop()


# ---------------------------------------------------------------------------------------------- notifier

# Counted over the whole tables, less what the warm-up left: ~5 ms a poll at 15,000 notifications, 5 polls a second
# (filtering the measured cases with LIKE on case_id took twice that: the bench's own load stays ~2 % of a core).
PROGRESS = """
SELECT (SELECT count(*) FROM planned_moment WHERE moment = 'M1') AS consumed,
       (SELECT count(*) FROM notification WHERE status = 'sent') AS sent,
       (SELECT count(*) FROM notification
          WHERE status IN ('temporary_failure', 'permanent_failure', 'cancelled')) AS failed
"""
NOTIFICATIONS = """
SELECT id, case_id, channel, status, sent_at FROM notification WHERE moment = 'M1' AND case_id LIKE $1 || '%'
"""


def start_worker(argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, *argv], env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)


def peak_rss_mib(pid: int, key: str = "VmHWM") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat from field 3 (state) on: index 1 is the parent, 11-14 utime, stime, cutime, cstime."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """CPU time of a process; with `children`, also of its live child processes and the ones it has reaped."""
    fields = _stat(pid)
    if not fields:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
        for entry in Path("/proc").glob("[0-9]*"):
            child = _stat(int(entry.name))
            if child and int(child[1]) == pid:
                ticks += int(child[11]) + int(child[12])
    return ticks / TICKS


@dataclass
class Progress:
    consumed: int
    sent: int
    failed: int


async def progress(connection: asyncpg.Connection, before: Progress | None = None) -> Progress:
    """M1 moments planned and notifications sent or failed so far; since `before` when given."""
    row = await connection.fetchrow(PROGRESS)
    assert row is not None
    now = Progress(int(row["consumed"]), int(row["sent"]), int(row["failed"]))
    if before is None:
        return now
    return Progress(now.consumed - before.consumed, now.sent - before.sent, now.failed - before.failed)


def check_alive(workers: dict[str, subprocess.Popen[bytes]]) -> None:
    for name, process in workers.items():
        if process.poll() is not None:
            log = LOGS / f"notifier-{name}.log"
            raise RuntimeError(f"the notifier {name} stopped (exit {process.returncode}); see {log}")


@dataclass
class NotifierRun:
    figures: Figures
    file_latencies: list[float]  # to the outbox file's mtime, committed as sent or not yet
    consumer_seconds: float | None  # first produce to the last M1 planned: the consumer stage alone
    consumed: int  # M1 moments planned by the end
    cpu: dict[str, float]  # CPU seconds per process during the measured run
    messages: int  # committed as sent
    handed: int  # outbox files written (a batch is committed as sent after its last hand-over)
    failed: int


async def notifier_run(
    bootstrap: str,
    dsn: str,
    outbox: Path,
    workers: dict[str, subprocess.Popen[bytes]],
    cpu: Callable[[], dict[str, float]],
    args: argparse.Namespace,
) -> NotifierRun:
    connection = await asyncpg.connect(dsn)
    try:
        # Warm-up: both workers up, the consumer in its group, templates and fonts loaded.
        warm = [case_id(WARM_UP, n) for n in range(10)]
        await produce(bootstrap, CASE_EVENTS_TOPIC, warm, 0)
        deadline = time.monotonic() + 120
        while (warmed := await progress(connection)).sent < len(warm) * CHANNELS:
            check_alive(workers)
            if time.monotonic() > deadline:
                raise RuntimeError(f"warm-up did not finish in 120 s; see {LOGS}/notifier-*.log")
            await asyncio.sleep(0.2)

        subjects = [case_id(MEASURED, n) for n in range(args.events)]
        cpu_before = cpu()
        started = time.time()
        producing = asyncio.create_task(produce(bootstrap, CASE_EVENTS_TOPIC, subjects, args.rate))
        consumer_done: float | None = None
        wanted = args.events * CHANNELS
        now = started
        while True:
            await asyncio.sleep(0.2)
            state = await progress(connection, warmed)
            now = time.time()
            if consumer_done is None and state.consumed >= args.events:
                consumer_done = now
            if state.sent + state.failed >= wanted or now - started > args.max_seconds:
                break
            check_alive(workers)
        cpu_after = cpu()
        produced = await producing
        rows = await connection.fetch(NOTIFICATIONS, MEASURED)
    finally:
        await connection.close()

    per_case: dict[str, int] = {}
    latencies, file_latencies = [], []
    for row in rows:
        at = produced[row["case_id"]]
        if row["status"] == "sent":
            per_case[row["case_id"]] = per_case.get(row["case_id"], 0) + 1
            latencies.append(row["sent_at"].timestamp() - at)
        path = outbox / f"{row['id']}{SUFFIX[row['channel']]}"
        if path.exists():
            file_latencies.append(path.stat().st_mtime - at)
    done = sum(1 for count in per_case.values() if count == CHANNELS)
    figures = Figures(events=args.events, done=done, seconds=now - started, latencies=latencies)
    return NotifierRun(
        figures=figures,
        file_latencies=file_latencies,
        consumer_seconds=None if consumer_done is None else consumer_done - started,
        consumed=state.consumed,
        cpu={name: cpu_after[name] - cpu_before[name] for name in cpu_before},
        messages=len(latencies),
        handed=len(file_latencies),
        failed=state.failed,
    )


def notifier_env(url: str, bootstrap: str, outbox: Path, args: argparse.Namespace) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("NOTIFIER_")}
    env.update(
        NOTIFIER_DATABASE_URL=url,
        NOTIFIER_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        NOTIFIER_CASE_EVENTS_TOPIC=CASE_EVENTS_TOPIC,
        NOTIFIER_CHANNEL_MODE="local",
        NOTIFIER_OUTBOX_DIR=str(outbox),
        NOTIFIER_QUIET_HOURS_START="0",
        NOTIFIER_QUIET_HOURS_END="0",
    )
    if args.batch_size:
        env["NOTIFIER_DISPATCH_BATCH_SIZE"] = str(args.batch_size)
    return env


# ---------------------------------------------------------------------------------------------- main


def ms(value: float) -> str:
    return f"{value:,.0f} ms" if value < 10_000 else f"{value / 1000:,.1f} s"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--rate", type=float, default=0, help="produce at this many events/s (0: all at once)")
    parser.add_argument("--max-seconds", type=float, default=60, help="stop waiting for the notifier after this")
    parser.add_argument("--batch-size", type=int, default=0, help="NOTIFIER_DISPATCH_BATCH_SIZE (0: the default)")
    parser.add_argument("--letter", choices=["pdf", "stub"], default="pdf", help="stub: no letter PDF rendering")
    parser.add_argument("--relay", action="store_true", help="also run the notifier's outbox relay process")
    parser.add_argument("--profile", action="store_true", help=f"run each worker under cProfile ({LOGS}/*.prof)")
    args = parser.parse_args()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # group-join chatter of the bench's own clients
    LOGS.mkdir(exist_ok=True)
    ensure_kafka_libs()
    sample, _ = case_opened(case_id(MEASURED, 0))
    validate_cloud_event(CloudEvent.from_json_bytes(sample))  # the events are what the contract says

    workers: dict[str, subprocess.Popen[bytes]] = {}
    with tempfile.TemporaryDirectory(prefix="ep-bench-notifier-") as scratch:
        broker = KafkaBroker(Path(scratch) / "kafka")
        cluster = PostgresCluster(Path(scratch) / "postgres")
        with broker, cluster:
            try:
                await create_declared_topics(broker.bootstrap_servers)
                url = cluster.create_database("notifier_bench")
                await asyncio.to_thread(upgrade_to_head, "notifier:migrations", url)
                dsn = url.replace("postgresql+asyncpg", "postgresql")
                raw = await baseline(broker.bootstrap_servers, args.events, args.rate)
                baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

                outbox = Path(scratch) / "outbox"
                env = notifier_env(url, broker.bootstrap_servers, outbox, args)
                commands = {
                    "consumer": ["-m", "notifier.workers.consumer"],
                    "dispatcher": ["-m", "notifier.workers.dispatcher"],
                }
                if args.letter == "stub":
                    stub = Path(scratch) / "stub_dispatcher.py"
                    stub.write_text(STUB_DISPATCHER)
                    commands["dispatcher"] = [str(stub)]
                if args.relay:
                    commands["relay"] = ["-m", "notifier.workers.outbox_relay"]
                for name, argv in commands.items():
                    if args.profile:
                        argv = ["-m", "cProfile", "-o", str(LOGS / f"notifier-{name}.prof"), *argv]
                    workers[name] = start_worker(argv, env, Path(scratch), LOGS / f"notifier-{name}.log")
                postmaster, broker_pid = cluster.pid or 0, broker.pid or 0

                def cpu() -> dict[str, float]:
                    used = {name: cpu_seconds(process.pid) for name, process in workers.items()}
                    used["postgres"] = cpu_seconds(postmaster, children=True)
                    used["broker"] = cpu_seconds(broker_pid)
                    return used

                run = await notifier_run(broker.bootstrap_servers, dsn, outbox, workers, cpu, args)
                rss = {name: peak_rss_mib(process.pid) for name, process in workers.items()}
                broker_rss = peak_rss_mib(broker.pid, "VmRSS") if broker.pid else 0.0
            finally:
                for process in workers.values():
                    process.terminate()
                for process in workers.values():
                    try:
                        process.wait(15)
                    except subprocess.TimeoutExpired:
                        process.kill()

    report(args, raw, run, rss=rss, baseline_rss=baseline_rss, broker_rss=broker_rss)


def report(
    args: argparse.Namespace,
    raw: Figures,
    run: NotifierRun,
    *,
    rss: dict[str, float],
    baseline_rss: float,
    broker_rss: float,
) -> None:
    ours = run.figures
    files = Figures(events=0, done=0, seconds=0, latencies=run.file_latencies)
    drained = ours.done == ours.events
    messages_rate = run.messages / ours.seconds if ours.seconds else 0.0
    handed_rate = run.handed / ours.seconds if ours.seconds else 0.0
    pace = f"paced at {args.rate:,.0f} events/s" if args.rate else "produced all at once"
    options = [f"dispatch batch {args.batch_size or 'default (200)'}", f"letters: {args.letter}"]
    if args.relay:
        options.append("outbox relay running")
    print(f"notifier pipeline: {args.events:,} case.opened events ({pace}); {'; '.join(options)}\n")
    rows = [
        ("baseline: raw produce-consume round trip", f"{raw.rate:,.0f}", "", raw),
        ("notifier: event -> notification sent_at", f"{ours.rate:,.0f}", f"{messages_rate:,.0f}", ours),
        ("notifier: event -> outbox file written", "", f"{handed_rate:,.0f}", files),
    ]
    print(f"| {'':42} | {'events/s':>9} | {'msgs/s':>7} | {'p50':>9} | {'p99':>9} |")
    print(f"|{'-' * 44}|{'-' * 11}|{'-' * 9}|{'-' * 11}|{'-' * 11}|")
    for label, events, messages, figures in rows:
        p50, p99 = ms(figures.p(0.5)), ms(figures.p(0.99))
        print(f"| {label:42} | {events:>9} | {messages:>7} | {p50:>9} | {p99:>9} |")
    print()
    ratio = ours.rate / raw.rate if raw.rate else 0.0
    slower = ours.p(0.99) / raw.p(0.99) if raw.latencies else 0.0
    print(f"ratio      notifier / baseline: {ratio:.3f} of the events/s; p99 latency {slower:,.1f}x the baseline's")
    line = f"notifier   {ours.done:,} of {ours.events:,} events had all their M1 messages sent in {ours.seconds:.1f} s"
    if not drained:
        line += (
            f" (not drained: stopped at --max-seconds {args.max_seconds:.0f}; {run.messages:,} of"
            f" {ours.events * CHANNELS:,} messages committed as sent, {run.handed:,} files written; the latencies are"
            " of those, the others took longer)"
        )
    print(f"{line}; {run.failed} failed")
    if run.consumer_seconds is not None:
        consumer = f"planned all {args.events:,} M1 moments in {run.consumer_seconds:.1f} s"
        consumer_rate = args.events / run.consumer_seconds
    else:
        consumer = f"planned {run.consumed:,} of {args.events:,} M1 moments by the end"
        consumer_rate = run.consumed / ours.seconds
    print(f"stages     consumer {consumer} ({consumer_rate:,.0f} events/s); dispatcher {handed_rate:,.0f} messages/s")
    per = {"consumer": max(run.consumed, 1), "dispatcher": max(run.handed, 1)}
    unit = {"consumer": "event", "dispatcher": "message"}
    used = ", ".join(
        f"{name} {seconds:.1f} s" + (f" ({seconds / per[name] * 1000:.1f} ms/{unit[name]})" if name in per else "")
        for name, seconds in run.cpu.items()
    )
    print(f"cpu        {used}; in {ours.seconds:.1f} s of wall time on {os.cpu_count()} cores")
    throughput = "met" if drained and ours.rate >= 1000 else "NOT met"
    latency = "met" if drained and ours.p(0.99) < 1000 else "NOT met"
    print(
        f"target     >= 1,000 events/s sustained: {throughput} ({ours.rate:,.0f}); p99 < 1 s: {latency} "
        f"({ms(ours.p(0.99))} at {'this pace' if args.rate else 'a burst of ' + format(args.events, ',')})"
    )
    workers = ", ".join(f"{name} {value:.0f} MiB" for name, value in rss.items())
    print(
        f"memory     peak RSS: {workers} (target <= 200 MB each); bench process (baseline) {baseline_rss:.0f} MiB; "
        f"broker {broker_rss:.0f} MiB"
    )
    print(f"logs       {LOGS}/notifier-*.log" + (f", profiles {LOGS}/notifier-*.prof" if args.profile else ""))


if __name__ == "__main__":
    asyncio.run(main())
