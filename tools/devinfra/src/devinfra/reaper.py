"""What a test run started, written down so that nothing outlives the run.

A session that starts a PostgreSQL cluster, a Kafka broker or a service process records it here (one small JSON
file per process, in a per-user directory under the system's temp dir). A run that ends normally stops what it
started and removes the record. A run stopped with SIGTERM or Ctrl-C still tears its fixtures down (the pytest
plugin turns SIGTERM into KeyboardInterrupt). A run killed with SIGKILL cannot clean up: the next run finds the
records whose owner is gone and kills what they name (process and start time must still match, so a recycled pid
is never touched), then removes the directories they name.
"""

import contextlib
import json
import os
import shutil
import signal
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path


def registry() -> Path:
    """The per-user directory of records (EP_TEST_REAPER_DIR overrides it, for tests of this module)."""
    configured = os.environ.get("EP_TEST_REAPER_DIR")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / f"ep-test-runs-{os.getuid()}"


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat); None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError, PermissionError):
        return None
    if fields[0] == "Z":  # a zombie has ended; only its parent's wait is missing
        return None
    return int(fields[19])


@dataclass(frozen=True)
class Record:
    what: str
    pid: int
    pid_started: int
    owner: int
    owner_started: int
    directory: str | None = None

    def owner_alive(self) -> bool:
        return start_time(self.owner) == self.owner_started

    def process_alive(self) -> bool:
        return start_time(self.pid) == self.pid_started


def track(pid: int, *, what: str, directory: Path | None = None) -> Path | None:
    """Record that this process started `pid` (and may remove `directory` when it is reaped)."""
    started, owner_started = start_time(pid), start_time(os.getpid())
    if started is None or owner_started is None:
        return None
    record = Record(what, pid, started, os.getpid(), owner_started, str(directory) if directory else None)
    folder = registry()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{os.getpid()}-{pid}.json"
    path.write_text(json.dumps(asdict(record)))
    return path


def untrack(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def _kill(record: Record) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(record.pid) == record.pid:  # started in its own session: its children go with it
            os.killpg(record.pid, signal.SIGKILL)
        else:
            os.kill(record.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while record.process_alive() and time.monotonic() < deadline:
        time.sleep(0.05)


def reap() -> list[str]:
    """Kill what runs that are gone left behind; return a line per process reaped."""
    folder = registry()
    if not folder.is_dir():
        return []
    reaped = []
    for path in sorted(folder.glob("*.json")):
        try:
            record = Record(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            path.unlink(missing_ok=True)  # unreadable: nothing can be proven about it, nothing is killed
            continue
        if record.owner_alive():
            continue  # a run still going (this one, or one beside it)
        if record.process_alive():
            _kill(record)
            reaped.append(f"{record.what} (pid {record.pid}) left by the ended test run {record.owner}")
        if record.directory:
            shutil.rmtree(record.directory, ignore_errors=True)
        path.unlink(missing_ok=True)
    return reaped
