"""An SMTP sink for tests: `python -m aiosmtpd -n -l 127.0.0.1:PORT -c devinfra.smtp_sink.FolderSink FOLDER`.

Every message it receives becomes FOLDER/<n>.eml (written under a temporary name, then renamed), so a test reads
exactly what a real SMTP server accepted.
"""

import itertools
import os
from pathlib import Path
from typing import Any


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

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        number = next(self._numbers)
        path = self._folder / f"{os.getpid()}-{number:05d}.eml"
        tmp = path.with_suffix(".part")
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.replace(path)
        return "250 Message accepted for delivery"
