"""A real single-node Apache Kafka broker (KRaft, broker and controller in one JVM) for tests and `make run`.

The machines have Java and Maven but no Docker, so the broker is assembled from Maven Central jars
(tools/devinfra/kafka/pom.xml), fetched once per machine into a cache outside the repository. It is the real
broker, never a fake: the tests are meant to meet Kafka's own protocol, transactions and group coordinator.

    python -m devinfra.kafka fetch
    python -m devinfra.kafka start --data-dir .local/kafka [--port 9092] [--auto-create-topics]
    python -m devinfra.kafka create-topics --bootstrap 127.0.0.1:9092 --topic case-events:3
    python -m devinfra.kafka stop --data-dir .local/kafka
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import concurrent.futures
import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from devinfra import reaper
from devinfra.ports import free_port

KAFKA_VERSION = "4.1.2"

_KAFKA_DIR = Path(__file__).resolve().parents[2] / "kafka"
POM_PATH = _KAFKA_DIR / "pom.xml"
LOG4J_CONFIG = _KAFKA_DIR / "log4j2.yaml"

_HOST = "127.0.0.1"
_NODE_ID = 1
# The stamp inside a libs dir: the pom it was fetched with, so a changed pom refetches instead of
# silently running yesterday's jars.
_POM_STAMP = ".pom-sha256"
_LOG_TAIL_LINES = 40
_START_ATTEMPTS = 3

T = TypeVar("T")


class KafkaError(RuntimeError):
    """The local broker could not be fetched, started or stopped; the message says why and what to do."""


def cache_dir() -> Path:
    """The per-machine cache (outside git): EP_CACHE_DIR, else ~/.cache/eviction-prevention."""
    override = os.environ.get("EP_CACHE_DIR")
    return Path(override).expanduser() if override else Path.home() / ".cache" / "eviction-prevention"


def _pom_digest() -> str:
    return hashlib.sha256(POM_PATH.read_bytes()).hexdigest()


def _libs_ready(libs: Path, version: str, digest: str) -> bool:
    stamp = libs / _POM_STAMP
    return (libs / f"kafka_2.13-{version}.jar").is_file() and stamp.is_file() and stamp.read_text().strip() == digest


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    # Two test runs (or a test run beside `make run`) on one machine must not fetch into one dir at once.
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_kafka_libs(version: str = KAFKA_VERSION) -> Path:
    """Return cache_dir()/kafka-<version>/libs, fetching the broker's runtime jars with Maven first if needed.

    Idempotent and atomic: Maven copies into a temporary dir that is renamed into place only when complete,
    so a killed fetch leaves no half cache behind.
    """
    home = cache_dir() / f"kafka-{version}"
    libs = home / "libs"
    digest = _pom_digest()
    if _libs_ready(libs, version, digest):
        return libs
    home.mkdir(parents=True, exist_ok=True)
    with _file_lock(home / ".fetch.lock"):
        if _libs_ready(libs, version, digest):
            return libs
        for leftover in home.glob("libs.tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KafkaError("Maven (mvn) is not on PATH; install it (apt-get install maven) to fetch Kafka")
        tmp = Path(tempfile.mkdtemp(prefix="libs.tmp-", dir=home))
        try:
            command = [
                mvn,
                "-q",
                "-B",
                "-f",
                str(POM_PATH),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={tmp}",
                f"-Dkafka.version={version}",
            ]
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                output = (result.stdout + result.stderr).strip().splitlines()[-_LOG_TAIL_LINES:]
                raise KafkaError(
                    f"fetching Kafka {version} from Maven Central failed (mvn exit {result.returncode}):\n"
                    + "\n".join(output)
                )
            if not (tmp / f"kafka_2.13-{version}.jar").is_file():
                raise KafkaError(f"mvn finished but {tmp} has no kafka_2.13-{version}.jar")
            (tmp / _POM_STAMP).write_text(digest + "\n")
            if libs.exists():
                # Fetched with another pom: move it aside first, since rename cannot replace a full dir.
                stale = Path(tempfile.mkdtemp(prefix="libs.tmp-stale-", dir=home))
                libs.rename(stale / "libs")
            tmp.rename(libs)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            for leftover in home.glob("libs.tmp-*"):
                shutil.rmtree(leftover, ignore_errors=True)
    return libs


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise KafkaError("no java on PATH and no JAVA_HOME: Kafka 4.x needs Java 17 (openjdk-17-jre)")
    return java


def _random_cluster_id() -> str:
    # Kafka's Uuid.randomUuid(): 16 random bytes in unpadded base64url; it never starts with '-'
    # because a leading dash reads as a command-line flag.
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _log_since(path: Path, offset: int) -> list[str]:
    """The lines this start appended to a log file (the files are appended to across restarts)."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace").splitlines()
    except FileNotFoundError:
        return []


def _summary(lines: list[str], limit: int = _LOG_TAIL_LINES) -> str:
    # Log entries and their causes, without the stack frames that would fill the whole tail.
    kept = [line for line in lines if not line.startswith(("\tat ", "\t... "))]
    return "\n".join(kept[-limit:]) or "(nothing)"


def _read_pid_file(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        # Reap it if it is our own child, or it stays a zombie that signal 0 still reaches.
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _is_broker_of(pid: int, config: Path) -> bool:
    """Whether pid is the Kafka JVM started with this config: a pid file can outlive its process."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return False
    return b"kafka.Kafka" in argv and str(config).encode() in argv


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((_HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


async def _metadata_ready(bootstrap_servers: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError as AIOKafkaError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return bool(cluster.get("brokers"))
    except (TimeoutError, AIOKafkaError, OSError):
        return False
    finally:
        await admin.close()


def _wait_ready(bootstrap_servers: str, port: int, deadline: float, alive: Callable[[], bool]) -> str | None:
    """Poll until a metadata request names a broker; return why not (None when ready)."""
    while True:
        if not alive():
            return "the broker process exited"
        # The socket first: an aiokafka client logs an error for every refused connection.
        if _port_open(port) and _run_in_thread(_metadata_ready(bootstrap_servers)):
            return None
        if time.monotonic() >= deadline:
            return "timed out waiting for a metadata response"
        time.sleep(0.1)


def _run_in_thread(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on its own loop in a worker thread.

    start() is sync and is also called from inside a running loop (an async test calling restart()),
    where asyncio.run() is refused, and in the main thread it would unset pytest-asyncio's loop.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _free_port_except(*taken: int) -> int:
    port = free_port(_HOST)
    while port in taken:
        port = free_port(_HOST)
    return port


class KafkaBroker:
    """One KRaft broker+controller JVM whose config, data, logs and pid file all live in data_dir."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        controller_port: int | None = None,
        heap: str = "512m",
        auto_create_topics: bool = False,
        version: str = KAFKA_VERSION,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        taken = [controller_port] if controller_port is not None else []
        self.port = port if port is not None else _free_port_except(*taken)
        self.controller_port = controller_port if controller_port is not None else _free_port_except(self.port)
        self._ports_chosen = port is None and controller_port is None
        self.heap = heap
        self.auto_create_topics = auto_create_topics
        self.version = version
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._tracked: Path | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{_HOST}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "kafka.pid"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def log_dirs(self) -> Path:
        """Kafka's own `log.dirs`: the topic data and the KRaft metadata log."""
        return self.data_dir / "kafka-data"

    @property
    def cluster_id_file(self) -> Path:
        return self.data_dir / "cluster.id"

    def server_properties(self) -> str:
        return "\n".join(
            [
                "# Written by devinfra.kafka on every start; edits are lost.",
                "process.roles=broker,controller",
                f"node.id={_NODE_ID}",
                # Static voters, not controller.quorum.bootstrap.servers: the voter endpoint then lives in
                # this file, not in the formatted log, so a restart may use other ports.
                f"controller.quorum.voters={_NODE_ID}@{_HOST}:{self.controller_port}",
                f"listeners=PLAINTEXT://{_HOST}:{self.port},CONTROLLER://{_HOST}:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://{_HOST}:{self.port}",
                "inter.broker.listener.name=PLAINTEXT",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={self.log_dirs}",
                "num.partitions=3",
                "default.replication.factor=1",
                "min.insync.replicas=1",
                # Production creates topics from deploy/ declarations; tests should find a missing one.
                f"auto.create.topics.enable={'true' if self.auto_create_topics else 'false'}",
                "offsets.topic.replication.factor=1",
                # 50 partitions (the default) make the first group join of a run wait for 50 logs.
                "offsets.topic.num.partitions=3",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "transaction.state.log.num.partitions=3",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "share.coordinator.state.topic.num.partitions=3",
                # The default 3 s delay slows every test that joins a consumer group.
                "group.initial.rebalance.delay.ms=0",
                "",
            ]
        )

    def _java_command(self, libs: Path, main_class: str, *args: str, heap: str | None = None) -> list[str]:
        command = [_java()]
        if heap is not None:
            command += [f"-Xms{heap}", f"-Xmx{heap}"]
        command += [
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            f"-Dkafka.logs.dir={self.logs_dir}",
            "-Djava.awt.headless=true",
            "-cp",
            f"{libs}/*",
            main_class,
            *args,
        ]
        return command

    def _format_once(self, libs: Path) -> None:
        if (self.log_dirs / "meta.properties").is_file():
            return
        # No meta.properties means never formatted or a format that was killed halfway: start clean.
        shutil.rmtree(self.log_dirs, ignore_errors=True)
        if not self.cluster_id_file.is_file():
            self.cluster_id_file.write_text(_random_cluster_id() + "\n")
        cluster_id = self.cluster_id_file.read_text().strip()
        command = self._java_command(
            libs,
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            cluster_id,
            "--config",
            str(self.config_path),
            heap="128m",
        )
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            output = result.stdout + result.stderr
            raise KafkaError(f"formatting {self.log_dirs} failed (exit {result.returncode}):\n{output}")

    def start(self, timeout: float = 90) -> None:
        """Format the data dir once, start the JVM detached and return when a metadata request succeeds."""
        deadline = time.monotonic() + timeout
        running = _read_pid_file(self.pid_file)
        if running is not None and _pid_alive(running) and _is_broker_of(running, self.config_path):
            raise KafkaError(
                f"a broker from {self.data_dir} already runs (pid {running}); "
                f"stop it with `python -m devinfra.kafka stop --data-dir {self.data_dir}`"
            )
        libs = ensure_kafka_libs(self.version)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(exist_ok=True)
        for attempt in range(_START_ATTEMPTS):
            self.config_path.write_text(self.server_properties())
            self._format_once(libs)
            problem, output = self._launch(libs, deadline)
            if problem is None:
                return
            # A port that was free when chosen can be taken before the JVM binds it; choose again.
            lost_port = any("Address already in use" in line for line in output)
            if not (lost_port and self._ports_chosen and attempt + 1 < _START_ATTEMPTS):
                raise KafkaError(
                    f"Kafka {self.version} at {self.bootstrap_servers} did not become ready: {problem}.\n"
                    f"--- {self.logs_dir} (server.log, kafka.out) ---\n{_summary(output)}"
                )
            self.port = _free_port_except(self.port, self.controller_port)
            self.controller_port = _free_port_except(self.port, self.controller_port)

    def _launch(self, libs: Path, deadline: float) -> tuple[str | None, list[str]]:
        """Start the JVM; return why it is not ready (None when it is) and the log lines it wrote."""
        server_log, stdout_path = self.logs_dir / "server.log", self.logs_dir / "kafka.out"
        offsets = {path: _size(path) for path in (server_log, stdout_path)}
        command = self._java_command(libs, "kafka.Kafka", str(self.config_path), heap=self.heap)
        with stdout_path.open("ab") as stdout:
            # Own session: Ctrl-C in a terminal or the end of `make` does not reach the broker; stop() does.
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,
            )
        self._process, self.pid = process, process.pid
        self.pid_file.write_text(f"{self.pid}\n")
        self._tracked = reaper.track(process.pid, what=f"kafka at {self.bootstrap_servers}")
        problem = _wait_ready(self.bootstrap_servers, self.port, deadline, lambda: process.poll() is None)
        if problem is None:
            return None, []
        self.stop(timeout=10)
        return problem, [line for path, offset in offsets.items() for line in _log_since(path, offset)]

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM this broker's pid (SIGKILL after timeout) and wait for it; a stopped broker is fine."""
        pid = self.pid if self.pid is not None else _read_pid_file(self.pid_file)
        if pid is not None and _pid_alive(pid) and _is_broker_of(pid, self.config_path):
            _terminate(pid, timeout)
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=1)
            self._process = None
        self.pid = None
        reaper.untrack(self._tracked)
        self._tracked = None
        if _read_pid_file(self.pid_file) == pid:
            self.pid_file.unlink(missing_ok=True)

    def restart(self) -> None:
        """Stop and start again on the same ports and data dir (topics, offsets and data are kept)."""
        self.stop()
        self.start()

    def __enter__(self) -> KafkaBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _terminate(pid: int, timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_gone(pid, timeout):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if not _wait_gone(pid, 10):
        raise KafkaError(f"Kafka broker pid {pid} survived SIGKILL")


def stop_data_dir(data_dir: Path, timeout: float = 30) -> bool:
    """Stop the broker whose pid file is in data_dir; False when none was running."""
    data_dir = Path(data_dir).resolve()
    pid_file = data_dir / "kafka.pid"
    pid = _read_pid_file(pid_file)
    running = pid is not None and _pid_alive(pid) and _is_broker_of(pid, data_dir / "server.properties")
    if pid is not None and running:
        _terminate(pid, timeout)
    pid_file.unlink(missing_ok=True)
    return running


async def create_topics(bootstrap_servers: str, topics: Mapping[str, int], *, replication_factor: int = 1) -> list[str]:
    """Create each topic (name -> partitions) unless it exists; return the names that were created."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError, for_code

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(name, partitions, replication_factor) for name, partitions in topics.items()]
        )
    finally:
        await admin.close()
    created = []
    for topic, error_code, *rest in response.topic_errors:
        if error_code == 0:
            created.append(topic)
            continue
        error = for_code(error_code)
        if error is TopicAlreadyExistsError:
            continue
        message = rest[0] if rest else ""
        raise KafkaError(f"creating topic {topic!r} failed: {error.__name__}: {message}")
    return created


def _parse_topic(spec: str) -> tuple[str, int]:
    name, _, partitions = spec.partition(":")
    if not name:
        raise argparse.ArgumentTypeError(f"topic {spec!r} has no name; write name or name:partitions")
    try:
        return name, int(partitions) if partitions else 3
    except ValueError:
        raise argparse.ArgumentTypeError(f"partitions in {spec!r} must be a number") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devinfra.kafka",
        description="A local single-node Kafka broker for tests and make run.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("fetch", help="fetch the broker's jars from Maven Central into the machine cache")
    start = commands.add_parser("start", help="start a detached broker, print its bootstrap servers")
    start.add_argument("--data-dir", type=Path, required=True)
    start.add_argument("--port", type=int, default=None, help="PLAINTEXT port (default: a free one)")
    start.add_argument("--controller-port", type=int, default=None, help="default: a free one")
    start.add_argument("--heap", default="512m")
    start.add_argument("--auto-create-topics", action="store_true")
    start.add_argument("--timeout", type=float, default=90)
    stop = commands.add_parser("stop", help="stop the broker whose pid file is in --data-dir")
    stop.add_argument("--data-dir", type=Path, required=True)
    stop.add_argument("--timeout", type=float, default=30)
    create = commands.add_parser("create-topics", help="create topics; one that exists is fine")
    create.add_argument("--bootstrap", required=True)
    create.add_argument(
        "--topic", dest="topics", type=_parse_topic, action="append", required=True, help="name[:partitions]"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "fetch":
            print(ensure_kafka_libs())
        elif args.command == "start":
            broker = KafkaBroker(
                args.data_dir,
                port=args.port,
                controller_port=args.controller_port,
                heap=args.heap,
                auto_create_topics=args.auto_create_topics,
            )
            broker.start(timeout=args.timeout)
            print(broker.bootstrap_servers)
        elif args.command == "stop":
            if not stop_data_dir(args.data_dir, timeout=args.timeout):
                print(f"no broker was running from {args.data_dir}", file=sys.stderr)
        elif args.command == "create-topics":
            created = asyncio.run(create_topics(args.bootstrap, dict(args.topics)))
            for topic in created:
                print(f"created {topic}")
    except KafkaError as error:
        print(f"devinfra.kafka: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
