"""Throw-away PostgreSQL clusters for tests, benchmarks and `make run`, or an existing server.

`PostgresCluster` runs Debian's server binaries (installed with apt-get when absent) on a free loopback port,
with its data, log and unix socket inside one directory, tuned for speed instead of durability.
`ExistingPostgres` offers the same database calls on a server someone else runs (EP_TEST_POSTGRES_URL).

CLI: `python -m devinfra.postgres start --data-dir D [--port N]` (detached; prints the port),
`python -m devinfra.postgres stop --data-dir D`, `python -m devinfra.postgres install`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar, cast
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

from devinfra import reaper
from devinfra.ports import free_port

__all__ = ["ExistingPostgres", "PostgresCluster", "PostgresServer", "main", "postgres_bin_dir"]

POSTGRES_LIB = Path("/usr/lib/postgresql")
OS_USER = "postgres"
LOG_FILE = "server.log"
# Written before the first apt-get install so the package does not create and start its own cluster on 5432.
APT_NO_MAIN_CLUSTER = Path("/etc/postgresql-common/createcluster.d/devinfra-no-main-cluster.conf")
_INSTALL_LOCK = Path(tempfile.gettempdir()) / "devinfra-postgres-install.lock"
# Linux limits sun_path to 108 bytes; postgres appends "/.s.PGSQL.<port>.lock".
_MAX_SOCKET_DIR = 80
_START_MARKER = "--- devinfra: starting"

# A cluster for tests: durability is traded for speed, nothing here survives a crash on purpose.
_SETTINGS = """
# --- devinfra: a throw-away cluster; durability traded for speed ---
listen_addresses = '127.0.0.1'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
cluster_name = 'devinfra'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
"""

_PG_HBA = """\
# devinfra: a password for every role, on the socket in the data dir and on 127.0.0.1 only
local   all   all                  scram-sha-256
host    all   all   127.0.0.1/32   scram-sha-256
"""

T = TypeVar("T")


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, also when the caller sits inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # asyncio.run refuses a thread that already runs a loop (an async test calling a sync fixture's helper).
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in bin_dir.parent.name.split("."))
    except ValueError:
        return (-1,)


def _installed_bin_dirs() -> list[Path]:
    found = [
        path
        for path in POSTGRES_LIB.glob("*/bin")
        if (path / "postgres").is_file() and (path / "initdb").is_file() and _version_key(path) != (-1,)
    ]
    return sorted(found, key=_version_key)


def _apt_install() -> None:
    if os.geteuid() != 0:
        raise RuntimeError(
            f"PostgreSQL server binaries are missing under {POSTGRES_LIB} and only root can install them: "
            "run `sudo apt-get update && sudo apt-get install -y postgresql`"
        )
    if shutil.which("apt-get") is None:
        raise RuntimeError(
            f"PostgreSQL server binaries are missing under {POSTGRES_LIB} and apt-get is not available: "
            "install the PostgreSQL server from your distribution, "
            "or set EP_TEST_POSTGRES_URL to an existing server"
        )
    if not APT_NO_MAIN_CLUSTER.exists():
        APT_NO_MAIN_CLUSTER.parent.mkdir(parents=True, exist_ok=True)
        APT_NO_MAIN_CLUSTER.write_text(
            "# devinfra starts its own throw-away clusters;"
            " the package's default cluster would only idle on 5432\n"
            "create_main_cluster = false\n"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
    ):
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            raise RuntimeError(f"`{' '.join(command)}` failed with exit code {result.returncode}:\n{tail}")


def postgres_bin_dir(install: bool = True) -> Path:
    """The highest /usr/lib/postgresql/<N>/bin; installs Debian's `postgresql` package when none exists."""
    found = _installed_bin_dirs()
    if found:
        return found[-1]
    if not install:
        raise FileNotFoundError(
            f"no PostgreSQL server binaries under {POSTGRES_LIB}/<N>/bin: run `python -m devinfra.postgres install`"
        )
    _INSTALL_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with _INSTALL_LOCK.open("a") as lock:
        # Parallel test workers on a fresh machine: one installs, the others wait and find the result.
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _installed_bin_dirs()
        if not found:
            _apt_install()
            found = _installed_bin_dirs()
    if not found:
        raise RuntimeError(f"apt-get installed `postgresql`, yet no server binaries are under {POSTGRES_LIB}")
    return found[-1]


def _pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (a container's PID 1 may never reap it)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return fields[0] not in ("Z", "X")


def _is_postmaster_of(pid: int, data_dir: Path) -> bool:
    """Guards against a recycled pid in a stale postmaster.pid: it must be postgres on this data dir."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return _pid_alive(pid)
    return any(arg.endswith(b"postgres") for arg in argv) and os.fsencode(str(data_dir)) in argv


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


class PostgresServer:
    """What tests need from a PostgreSQL server: URLs and fresh databases."""

    user: str
    password: str
    port: int
    pid: int | None = None

    def start(self, timeout: float = 60) -> None:
        raise NotImplementedError

    def stop(self, timeout: float = 30) -> None:
        raise NotImplementedError

    def url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        raise NotImplementedError

    async def _admin_connection(self, connect_timeout: float = 10) -> Any:
        raise NotImplementedError

    def create_database(self, name: str) -> str:
        """CREATE DATABASE unless it exists; returns its asyncpg SQLAlchemy URL."""
        _run_sync(self._create_database(name))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE if it exists, closing whatever connections still use it."""
        _run_sync(self._drop_database(name))

    async def _create_database(self, name: str) -> None:
        conn = await self._admin_connection()
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                    await conn.execute(f"CREATE DATABASE {_quote_ident(name)}")
        finally:
            await conn.close()

    async def _drop_database(self, name: str) -> None:
        conn = await self._admin_connection()
        try:
            version = cast(tuple[int, ...], conn.get_server_version())
            if version >= (13,):
                await conn.execute(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")
            else:
                await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
                await conn.execute(f"DROP DATABASE IF EXISTS {_quote_ident(name)}")
        finally:
            await conn.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class ExistingPostgres(PostgresServer):
    """A server someone else runs, e.g. EP_TEST_POSTGRES_URL=postgresql://user:pw@host:5432/postgres."""

    def __init__(self, admin_url: str) -> None:
        parts = urlsplit(admin_url)
        scheme = parts.scheme.split("+", 1)[0]
        if scheme not in ("postgresql", "postgres"):
            raise ValueError(f"admin_url must be a postgresql:// URL, got scheme {parts.scheme!r}")
        self._parts = parts
        self.admin_dsn = urlunsplit(parts._replace(scheme="postgresql"))
        self.user = unquote(parts.username or "")
        self.password = unquote(parts.password or "")
        self.port = parts.port or 5432
        self.pid = None

    def start(self, timeout: float = 60) -> None:
        """Nothing to start: the server is someone else's."""

    def stop(self, timeout: float = 30) -> None:
        """Nothing to stop: the server is someone else's."""

    def url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        return urlunsplit(self._parts._replace(scheme=driver, path="/" + quote(database)))

    async def _admin_connection(self, connect_timeout: float = 10) -> Any:
        return await asyncpg.connect(dsn=self.admin_dsn, timeout=connect_timeout)


class PostgresCluster(PostgresServer):
    """A PostgreSQL cluster of our own in `data_dir`: initdb once, then start and stop by pid."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        user: str = "postgres",
        password: str = "postgres",  # noqa: S107 - a throw-away cluster on loopback only
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self._port_is_ours = port is None
        self.port = port if port is not None else free_port()
        self.user = user
        self.password = password
        self.pid = None
        self._process: subprocess.Popen[bytes] | None = None
        self._tracked: Path | None = None

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_FILE

    def url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        credentials = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"{driver}://{credentials}@127.0.0.1:{self.port}/{quote(database)}"

    async def _admin_connection(self, connect_timeout: float = 10) -> Any:
        return await asyncpg.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            password=self.password,
            database="postgres",
            timeout=connect_timeout,
        )

    # --- who runs the server -------------------------------------------------------------------------

    def _os_account(self) -> pwd.struct_passwd | None:
        """The unprivileged account for initdb and postgres when we are root (both refuse root)."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(OS_USER)
        except KeyError:
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--user-group",
                    "--no-create-home",
                    "--home-dir=/var/lib/postgresql",
                    "--shell=/usr/sbin/nologin",
                    OS_USER,
                ],
                check=True,
                capture_output=True,
            )
            return pwd.getpwnam(OS_USER)

    def _grant_traverse(self, account: pwd.struct_passwd) -> None:
        """Let the postgres account reach the data dir through root-only parents (pytest's are 0700)."""
        gids = set(os.getgrouplist(account.pw_name, account.pw_gid))
        for parent in reversed(self.data_dir.parents):
            info = parent.stat()
            if info.st_uid == account.pw_uid:
                allowed = bool(info.st_mode & stat.S_IXUSR)
            elif info.st_gid in gids:
                allowed = bool(info.st_mode & stat.S_IXGRP)
            else:
                allowed = bool(info.st_mode & stat.S_IXOTH)
            if not allowed:
                # Search only (x), never read: names inside stay unlisted for other users.
                parent.chmod(stat.S_IMODE(info.st_mode) | stat.S_IXOTH)

    def _popen_kwargs(self, account: pwd.struct_passwd | None) -> dict[str, Any]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        env["LC_ALL"] = "C"
        kwargs: dict[str, Any] = {"env": env, "cwd": self.data_dir, "umask": 0o077}
        if account is not None:
            env["HOME"] = str(self.data_dir)
            env["USER"] = env["LOGNAME"] = account.pw_name
            kwargs.update(
                user=account.pw_uid,
                group=account.pw_gid,
                extra_groups=os.getgrouplist(account.pw_name, account.pw_gid),
            )
        return kwargs

    # --- lifecycle ---------------------------------------------------------------------------------

    def _initdb(self, bin_dir: Path, account: pwd.struct_passwd | None) -> None:
        with tempfile.NamedTemporaryFile("w", prefix="devinfra-pgpw-", delete=False) as pwfile:
            pwfile.write(self.password + "\n")
        try:
            if account is not None:
                os.chown(pwfile.name, account.pw_uid, account.pw_gid)
            result = subprocess.run(
                [
                    str(bin_dir / "initdb"),
                    f"--pgdata={self.data_dir}",
                    f"--username={self.user}",
                    f"--pwfile={pwfile.name}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ],
                capture_output=True,
                text=True,
                check=False,
                **self._popen_kwargs(account),
            )
        finally:
            os.unlink(pwfile.name)
        if result.returncode != 0:
            raise RuntimeError(
                f"initdb failed for {self.data_dir} (exit code {result.returncode}):\n{result.stdout}{result.stderr}"
            )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(_SETTINGS)
        (self.data_dir / "pg_hba.conf").write_text(_PG_HBA)

    def _running_postmaster(self) -> tuple[int, int] | None:
        """(pid, port) of a live postmaster on this data dir, from its postmaster.pid."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (OSError, ValueError, IndexError):
            return None
        if _pid_alive(pid) and _is_postmaster_of(pid, self.data_dir):
            return pid, port
        return None

    def _server_command(self, bin_dir: Path) -> list[str]:
        socket_dir = str(self.data_dir)
        # A long or comma-holding path cannot be a socket dir; TCP on 127.0.0.1 is all the tests use anyway.
        if len(os.fsencode(socket_dir)) > _MAX_SOCKET_DIR or "," in socket_dir:
            socket_dir = ""
        return [
            str(bin_dir / "postgres"),
            "-D", str(self.data_dir),
            "-p", str(self.port),
            "-c", f"unix_socket_directories={socket_dir}",
        ]  # fmt: skip

    def start(self, timeout: float = 60) -> None:
        """initdb on first use, start `postgres` detached, return once a real connection runs `select 1`."""
        if self.pid is not None and _pid_alive(self.pid):
            return
        running = self._running_postmaster()
        if running is not None:
            raise RuntimeError(
                f"a postgres (pid {running[0]}, port {running[1]}) already runs on {self.data_dir}; "
                f"stop it with `python -m devinfra.postgres stop --data-dir {self.data_dir}`"
            )
        bin_dir = postgres_bin_dir()
        account = self._os_account()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if account is not None:
            os.chown(self.data_dir, account.pw_uid, account.pw_gid)
            self._grant_traverse(account)
        self.data_dir.chmod(0o700)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(bin_dir, account)

        deadline = time.monotonic() + timeout
        for _attempt in range(3):
            self._spawn(bin_dir, account)
            error = _run_sync(self._wait_ready(deadline))
            if error is None:
                return
            self._kill()
            log = _log_tail(self.log_path)
            this_attempt = log.rsplit(_START_MARKER, 1)[-1]
            if self._port_is_ours and "could not bind" in this_attempt and time.monotonic() < deadline:
                # Someone took the free port between free_port() and bind(): pick another.
                self.port = free_port()
                continue
            raise RuntimeError(f"postgres on {self.data_dir} port {self.port} did not start: {error}\n{log}")
        raise RuntimeError(f"postgres on {self.data_dir} found no free port:\n{_log_tail(self.log_path)}")

    def _spawn(self, bin_dir: Path, account: pwd.struct_passwd | None) -> None:
        with self.log_path.open("ab") as log:
            if account is not None:
                os.chown(self.log_path, account.pw_uid, account.pw_gid)
            log.write(f"{_START_MARKER} on port {self.port} ---\n".encode())
            log.flush()
            # A session of its own: the terminal's Ctrl-C does not reach it; the CLI can exit and leave it.
            self._process = subprocess.Popen(
                self._server_command(bin_dir),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self._popen_kwargs(account),
            )
        self.pid = self._process.pid
        self._tracked = reaper.track(self.pid, what=f"postgres on {self.data_dir}")

    async def _wait_ready(self, deadline: float) -> str | None:
        """None once `select 1` answers; otherwise why not (the process died, or the deadline passed)."""
        last_error = "no attempt"
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                return f"the process exited with code {self._process.returncode}"
            try:
                # Short: postgres answers in milliseconds; whatever else holds the port may never answer.
                conn = await self._admin_connection(connect_timeout=1)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                await asyncio.sleep(0.05)
                continue
            try:
                if await conn.fetchval("SELECT 1") == 1:
                    return None
            finally:
                await conn.close()
        return f"no connection before the deadline (last error: {last_error})"

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        if self._process is not None and self._process.pid == pid:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = time.monotonic() + timeout
        while _pid_alive(pid):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def _kill(self) -> None:
        """SIGKILL the postmaster and its backends (its own process group), then reap it."""
        pid = self.pid
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        self._wait_gone(pid, 10)
        self.pid = None
        self._process = None
        reaper.untrack(self._tracked)

    def stop(self, timeout: float = 30) -> None:
        """Fast shutdown by pid (SIGINT); SIGKILL after `timeout`. Stopping a stopped cluster does nothing."""
        pid = self.pid
        if pid is None or not _pid_alive(pid):
            running = self._running_postmaster()
            pid = running[0] if running is not None else None
        if pid is None:
            self.pid = None
            if self._process is not None:
                self._process.poll()
                self._process = None
            return
        self.pid = pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        if not self._wait_gone(pid, timeout):
            self._kill()
        self.pid = None
        self._process = None
        reaper.untrack(self._tracked)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devinfra.postgres", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start detached (initdb on first use), print the port")
    start.add_argument("--data-dir", type=Path, required=True)
    start.add_argument("--port", type=int, default=None, help="default: a free loopback port")
    start.add_argument("--user", default="postgres")
    start.add_argument("--password", default="postgres")
    start.add_argument("--timeout", type=float, default=60)
    stop = commands.add_parser("stop", help="stop the cluster running on a data dir, by its pid")
    stop.add_argument("--data-dir", type=Path, required=True)
    stop.add_argument("--timeout", type=float, default=30)
    commands.add_parser("install", help="install PostgreSQL from Debian's packages unless present")
    args = parser.parse_args(argv)

    if args.command == "install":
        print(postgres_bin_dir(install=True))
        return 0
    if args.command == "start":
        cluster = PostgresCluster(args.data_dir, port=args.port, user=args.user, password=args.password)
        running = cluster._running_postmaster()
        if running is not None:
            print(running[1])
            return 0
        try:
            cluster.start(timeout=args.timeout)
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(cluster.port)
        return 0
    PostgresCluster(args.data_dir).stop(timeout=args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
