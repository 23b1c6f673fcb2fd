"""Nothing a test run starts outlives it: a run stopped with SIGTERM tears its fixtures down, and what a SIGKILLed
run left behind is reaped by the next one (never a process whose pid was merely reused)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from devinfra import reaper

DEADLINE = 30.0


def wait_until(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    return reaper.start_time(pid) is not None


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "runs"
    monkeypatch.setenv("EP_TEST_REAPER_DIR", str(folder))
    return folder


OWNER = textwrap.dedent(
    """
    import subprocess, sys, time
    from pathlib import Path
    from devinfra import reaper
    child = subprocess.Popen(["sleep", "300"], start_new_session=True)
    reaper.track(child.pid, what="a sleeping stand-in", directory=Path(sys.argv[1]))
    print(child.pid, flush=True)
    time.sleep(300)
    """
)


def test_what_a_sigkilled_run_left_behind_is_reaped_by_the_next(registry: Path, tmp_path: Path) -> None:
    leftover = tmp_path / "cluster-dir"
    leftover.mkdir()
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(leftover)], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    try:
        assert owner.stdout is not None
        child = int(owner.stdout.readline())
        assert reaper.reap() == [], "the owner still runs: nothing is touched"
        assert alive(child)
        owner.send_signal(signal.SIGKILL)
        owner.wait(DEADLINE)

        [line] = reaper.reap()
        assert f"pid {child}" in line
        wait_until(lambda: not alive(child), "the left-behind process to be gone")
        assert not leftover.exists(), "its directory is removed"
        assert list(registry.glob("*.json")) == []
    finally:
        owner.kill()
        owner.wait(DEADLINE)


def test_a_record_whose_pid_was_reused_kills_nothing(registry: Path) -> None:
    bystander = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        started = reaper.start_time(bystander.pid)
        assert started is not None
        registry.mkdir(parents=True)
        record = {
            "what": "a broker long gone",
            "pid": bystander.pid,
            "pid_started": started - 1,  # another process once had this pid
            "owner": 2**22 + 7,  # no such process
            "owner_started": 1,
            "directory": None,
        }
        (registry / "gone.json").write_text(json.dumps(record))
        assert reaper.reap() == []
        assert bystander.poll() is None, "the process that now has the pid lives on"
        assert list(registry.glob("*.json")) == []
    finally:
        bystander.kill()
        bystander.wait(DEADLINE)


SESSION_TEST = textwrap.dedent(
    """
    import subprocess, sys, time
    from pathlib import Path
    import pytest
    from devinfra import reaper

    @pytest.fixture(scope="session")
    def part():
        child = subprocess.Popen(["sleep", "300"], start_new_session=True)
        tracked = reaper.track(child.pid, what="a part of the run")
        Path("child.pid").write_text(str(child.pid))
        yield child
        child.terminate()
        child.wait(10)
        reaper.untrack(tracked)
        Path("torn-down").write_text("yes")

    def test_waits(part):
        Path("running").write_text("yes")
        time.sleep(120)
    """
)


def test_a_run_stopped_with_sigterm_stops_what_it_started(registry: Path, tmp_path: Path) -> None:
    (tmp_path / "test_session.py").write_text(SESSION_TEST)
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "devinfra.pytest_plugin", "-p", "no:cacheprovider",
         "-o", "addopts=", "--rootdir", str(tmp_path), "test_session.py"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
    )  # fmt: skip
    try:
        wait_until(lambda: (tmp_path / "running").exists(), "the inner test to run", timeout=60)
        child = int((tmp_path / "child.pid").read_text())
        run.send_signal(signal.SIGTERM)
        output, _ = run.communicate(timeout=DEADLINE)
    finally:
        run.kill()
    assert (tmp_path / "torn-down").exists(), output.decode(errors="replace")
    assert not alive(child)
    assert list(registry.glob("*.json")) == []
