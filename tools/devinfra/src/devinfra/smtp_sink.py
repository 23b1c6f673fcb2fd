"""An SMTP sink for tests and `make run --check`: `python -m aiosmtpd -n -l 127.0.0.1:PORT -c
devinfra.smtp_sink.FolderSink FOLDER`, or `LocalSmtpServer(folder).start()` from Python.

Every message it receives becomes FOLDER/<pid>-<n>.eml (written under a temporary name, then renamed), so a test
reads exactly what a real SMTP server accepted. Recipients at `bounce.invalid` are refused with 550 (a mailbox
that does not exist), so a test can show a permanent failure and its fallback.
"""

import email
import email.policy
import itertools
import os
import sys
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from devinfra.loopback import LoopbackProcess
from devinfra.ports import free_port

REFUSED_DOMAIN = "bounce.invalid"


class FolderSink:
    def __init__(self, folder: str) -> None:
        self._folder = Path(folder)
        self._folder.mkdir(parents=True, exist_ok=True)
        self._numbers = itertools.count(1)

    @classmethod
    def from_cli(cls, parser: Any, *args: str) -> "FolderSink":
        """aiosmtpd hands the CLASSARGS of its command line (here: the folder) to this hook."""
        if len(args) != 1:
            parser.error("FolderSink takes one argument: the folder to write received messages into")
        return cls(args[0])

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address.lower().endswith("@" + REFUSED_DOMAIN):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        number = next(self._numbers)
        path = self._folder / f"{os.getpid()}-{number:05d}.eml"
        tmp = path.with_suffix(".part")
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.replace(path)
        return "250 Message accepted for delivery"


class LocalSmtpServer:
    """The sink as a process on a free loopback port: start, wait until it listens, read, stop by its pid."""

    def __init__(self, folder: Path, *, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self._process = LoopbackProcess("the SMTP sink", self.port)

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def start(self, timeout: float = 15.0) -> "LocalSmtpServer":
        argv = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}", "-c"]
        self._process.start([*argv, "devinfra.smtp_sink.FolderSink", str(self.folder)], timeout)
        return self

    def stop(self) -> None:
        self._process.stop()

    def messages(self) -> list[EmailMessage]:
        """Every message received, oldest first."""
        if not self.folder.exists():
            return []
        return [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(self.folder.glob("*.eml"))
        ]

    def __enter__(self) -> "LocalSmtpServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
