"""JSON logs, one line per record, for every API and worker: configured once here.

Keys: time, level, logger, message, service, and trace_id and span_id when a span is current
(service_kit.tracing), plus exception when there is one. Nothing else of a record is written (no `extra`),
and no caller logs request bodies or field values: logs must not carry personal data. Nor do they carry query
values: the access log (uvicorn.access) and httpx's request lines name a URL, whose query is written as `?…`
(a client may put a BSN or a name there, R15; service_kit.query refuses what looks like a BSN, this keeps the
rest out of the logs).
"""

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from service_kit.tracing import current_ids

# uvicorn configures these with handlers of its own before it calls the app factory; they go to ours instead.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
# The loggers whose records name a request's URL among their arguments.
URL_LOGGERS = frozenset({"uvicorn.access", "httpx"})
OMITTED_QUERY = "?…"


def without_query(value: object) -> object:
    """A URL or path with its query left out (`/v1/cases?…`); anything else as it is."""
    text = str(value) if type(value).__name__ == "URL" else value
    if isinstance(text, str) and "?" in text and text.startswith(("/", "http://", "https://")):
        return text.split("?", 1)[0] + OMITTED_QUERY
    return value


class QueryValuesOmitted(logging.Filter):
    """Leaves the query out of every URL an access or request line names."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name in URL_LOGGERS and isinstance(record.args, tuple):
            record.args = tuple(without_query(arg) for arg in record.args)
        return True


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
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(each, QueryValuesOmitted) for each in logger.filters):
            logger.addFilter(QueryValuesOmitted())
