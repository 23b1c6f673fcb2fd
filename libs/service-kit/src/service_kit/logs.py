"""JSON logs, one line per record, for every API and worker: configured once here.

Keys: time, level, logger, message, service, and trace_id and span_id when a span is current
(service_kit.tracing), plus exception when there is one. Nothing else of a record is written (no `extra`),
and no caller logs request bodies or field values: logs must not carry personal data.
"""

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from service_kit.tracing import current_ids

# uvicorn configures these with handlers of its own before it calls the app factory; they go to ours instead.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
        }
        ids = current_ids()
        if ids is not None:
            entry["trace_id"], entry["span_id"] = ids
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the time (test runners swap it), never to a closed stream."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        return None


_handler: _StderrHandler | None = None


def configure_logging(*, service: str, level: str = "INFO") -> None:
    """Route every logger of the process to one JSON line handler on stderr; calling it again only updates it."""
    global _handler
    root = logging.getLogger()
    if _handler is None:
        _handler = _StderrHandler()
        root.addHandler(_handler)
    _handler.setFormatter(JsonFormatter(service))
    root.setLevel(level.upper())
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
