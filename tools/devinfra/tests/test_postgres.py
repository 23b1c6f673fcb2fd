"""The throw-away PostgreSQL cluster: it starts, serves asyncpg and SQLAlchemy, keeps data over a restart,
and leaves no process behind."""

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from devinfra import postgres
from devinfra.postgres import ExistingPostgres, PostgresCluster, PostgresServer

pytestmark = pytest.mark.postgres


def _process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


def _processes_on(data_dir: Path) -> list[int]:
    """Pids whose command line names this data dir: the postmaster (its backends retitle themselves)."""
    needle = os.fsencode(str(data_dir))
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if needle in argv and not _process_gone(int(entry.name)):
                found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    """A cluster of this module's own, so restarting and stopping it leaves the session's cluster alone."""
    cluster = PostgresCluster(tmp_path_factory.mktemp("own-postgres") / "data")
    started = time.monotonic()
    cluster.start()
    cold = time.monotonic() - started
    cluster.stop()
    started = time.monotonic()
    cluster.start()
    warm = time.monotonic() - started
    print(f"\npostgres start: first (initdb + start) {cold:.2f}s, restart {warm:.2f}s")
    yield cluster
    cluster.stop()


def test_cluster_starts_and_answers(own_cluster: PostgresCluster) -> None:
    assert own_cluster.pid is not None
    assert not _process_gone(own_cluster.pid)
    assert (own_cluster.data_dir / "PG_VERSION").is_file()
    assert own_cluster.url("db") == f"postgresql+asyncpg://postgres:postgres@127.0.0.1:{own_cluster.port}/db"


async def test_password_is_required(own_cluster: PostgresCluster) -> None:
    wrong = own_cluster.url("postgres", driver="postgresql").replace(":postgres@", ":wrong@")
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(wrong)


async def test_created_database_serves_an_async_engine(postgres_url_factory: Callable[[str], str]) -> None:
    url = postgres_url_factory("devinfra-engine")
    assert url.startswith("postgresql+asyncpg://")
    database = url.rsplit("/", 1)[1]
    assert database.startswith("devinfra_engine_")
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT current_database()")) == database
            settings = {
                name: (await conn.scalar(text(f"SHOW {name}")))
                for name in ("fsync", "synchronous_commit", "full_page_writes", "max_connections")
            }
    finally:
        await engine.dispose()
    if not os.environ.get("EP_TEST_POSTGRES_URL"):
        assert settings == {
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
        }


def test_create_database_is_idempotent_and_drop_removes_it(postgres_cluster: PostgresServer) -> None:
    first = postgres_cluster.create_database("devinfra_idempotent")
    assert postgres_cluster.create_database("devinfra_idempotent") == first
    postgres_cluster.drop_database("devinfra_idempotent")
    postgres_cluster.drop_database("devinfra_idempotent")


async def test_skip_locked_hands_each_row_to_one_claimer(postgres_url_factory: Callable[[str], str]) -> None:
    engine = create_async_engine(postgres_url_factory("devinfra_skip_locked"))
    claim = text("SELECT id FROM outbox ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE outbox (id int PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO outbox SELECT generate_series(1, 5)"))
        # The first transaction holds its two rows while the second claims: it must skip them, not wait.
        async with engine.connect() as first, engine.connect() as second, first.begin():
            claimed_first = (await first.scalars(claim, {"n": 2})).all()
            async with second.begin():
                # Without SKIP LOCKED this claim would wait on the first's locks: fail fast, do not hang.
                await second.execute(text("SET LOCAL lock_timeout = '5s'"))
                claimed_second = (await second.scalars(claim, {"n": 10})).all()
    finally:
        await engine.dispose()
    assert claimed_first == [1, 2]
    assert claimed_second == [3, 4, 5]


async def test_restart_keeps_data(own_cluster: PostgresCluster) -> None:
    url = own_cluster.create_database("devinfra_restart").replace("+asyncpg", "")
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE summons (id int PRIMARY KEY, court text)")
        await conn.execute("INSERT INTO summons VALUES (1, 'Rechtbank Amsterdam')")
    finally:
        await conn.close()
    old_pid = own_cluster.pid
    assert old_pid is not None
    own_cluster.stop()
    assert _process_gone(old_pid)
    own_cluster.start()
    assert own_cluster.pid != old_pid
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT court FROM summons WHERE id = 1") == "Rechtbank Amsterdam"
    finally:
        await conn.close()


def test_stop_leaves_no_process(tmp_path: Path) -> None:
    cluster = PostgresCluster(tmp_path / "data")
    with cluster:
        pid = cluster.pid
        assert pid is not None
        assert _processes_on(cluster.data_dir) == [pid]
    assert cluster.pid is None
    assert _process_gone(pid)
    assert _processes_on(cluster.data_dir) == []
    assert not (cluster.data_dir / "postmaster.pid").exists()
    cluster.stop()  # idempotent


def test_stop_kills_a_postmaster_that_ignores_fast_shutdown(tmp_path: Path) -> None:
    cluster = PostgresCluster(tmp_path / "data")
    cluster.start()
    pid = cluster.pid
    assert pid is not None
    os.kill(pid, 19)  # SIGSTOP: the SIGINT is never acted on
    cluster.stop(timeout=0.5)
    assert _process_gone(pid)
    assert _processes_on(cluster.data_dir) == []


def test_cli_starts_detached_and_stops_by_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    command = [sys.executable, "-m", "devinfra.postgres"]
    started = subprocess.run(
        [*command, "start", "--data-dir", str(data_dir)], capture_output=True, text=True, check=True
    )
    port = int(started.stdout.strip())
    try:
        again = subprocess.run(
            [*command, "start", "--data-dir", str(data_dir)], capture_output=True, text=True, check=True
        )
        assert int(again.stdout.strip()) == port
        pids = _processes_on(data_dir)
        assert len(pids) == 1
        assert ExistingPostgres(f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres").create_database(
            "devinfra_cli"
        ) == (f"postgresql+asyncpg://postgres:postgres@127.0.0.1:{port}/devinfra_cli")
    finally:
        subprocess.run([*command, "stop", "--data-dir", str(data_dir)], check=True)
    assert _process_gone(pids[0])
    assert _processes_on(data_dir) == []


def test_existing_postgres_builds_urls_from_the_admin_url() -> None:
    server = ExistingPostgres("postgresql://ep:s%40cret@db.example:6543/postgres?ssl=require")
    assert server.port == 6543
    assert server.password == "s@cret"
    assert server.url("cases") == "postgresql+asyncpg://ep:s%40cret@db.example:6543/cases?ssl=require"
    assert server.url("cases", driver="postgresql") == "postgresql://ep:s%40cret@db.example:6543/cases?ssl=require"
    server.start()
    server.stop()
    with pytest.raises(ValueError, match="postgresql://"):
        ExistingPostgres("mysql://root@localhost/db")


def test_bin_dir_without_install_names_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for version in ("9.6", "13", "16"):
        (tmp_path / version / "bin").mkdir(parents=True)
    for name in ("postgres", "initdb"):
        (tmp_path / "13" / "bin" / name).touch()
    monkeypatch.setattr(postgres, "POSTGRES_LIB", tmp_path)
    assert postgres.postgres_bin_dir(install=False) == tmp_path / "13" / "bin"
    monkeypatch.setattr(postgres, "POSTGRES_LIB", tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match=r"devinfra\.postgres install"):
        postgres.postgres_bin_dir(install=False)


def test_highest_installed_version_is_chosen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for version in ("9.6", "15", "100"):
        for name in ("postgres", "initdb"):
            path = tmp_path / version / "bin" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    monkeypatch.setattr(postgres, "POSTGRES_LIB", tmp_path)
    assert postgres.postgres_bin_dir(install=False) == tmp_path / "100" / "bin"
