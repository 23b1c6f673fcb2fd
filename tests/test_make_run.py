"""`make run` works: the supervisor starts its own broker and the three services on SQLite, trusting the
development key, a signal sent over HTTP with a token of that key opens a case whose message reaches the outbox,
and everything it started is stopped again."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devinfra.ports import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


def test_make_run_brings_up_the_platform_on_sqlite_and_stops_it(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KAFKA_PORT": str(free_port()),
        "CASE_API_PORT": str(free_port()),
        "NOTIFIER_PORT": str(free_port()),
        "GATEWAY_PORT": str(free_port()),
        "EP_DEV_OIDC_DIR": str(tmp_path / "dev-oidc"),  # not the developer's key in .local/dev-oidc
        # The environment configures the services (not only .env): case-api reports the smallest cell it shows.
        "CASE_API_STATISTICS_MIN_CELL": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "devinfra.run", "--check", "--state-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "check passed" in result.stdout
    assert "case-api statistics min cell: 1" in result.stdout, "CASE_API_STATISTICS_MIN_CELL did not reach case-api"
    assert f"127.0.0.1:{env['CASE_API_PORT']}/docs" in result.stdout
    # The banner tells how to get a token and send a signal with it.
    assert "TOKEN=$(make -s token ROLE=team_lead TEAM=team-noord)" in result.stdout
    assert f"127.0.0.1:{env['CASE_API_PORT']}/v1/signals" in result.stdout
    assert "Authorization: Bearer $TOKEN" in result.stdout
    assert (tmp_path / "dev-oidc" / "jwks.json").exists(), "the services were not given the development key"
    assert list((tmp_path / "data").glob("*.sqlite3")), "the services did not use their embedded SQLite files"
    assert list((tmp_path / "outbox").glob("*.pdf")), "the example household's M1 letter"
    # The example household has no e-mail address or mobile number: no e-mail or SMS was written for it.
    assert not list((tmp_path / "outbox").glob("*.eml"))
    assert not list((tmp_path / "outbox").glob("*.sms.txt"))
    assert processes_mentioning(str(tmp_path)) == [], "make run left processes running"


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that name `text` (the broker's config lives in the state dir)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in line:
            found.append(line)
    return found
