"""A real HTTP receiver on loopback that records what partners would receive (webhooks), for tests."""

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from devinfra.loopback import ThreadedHttpServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver(ThreadedHttpServer):
    """Answers every POST with `status` (200 unless set) and `headers` (e.g. Retry-After) and keeps what it
    received with a 2xx, in order."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.status = 200
        self.headers: dict[str, str] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    status = receiver.status
                    extra = dict(receiver.headers)
                    if 200 <= status < 300:
                        receiver.received.append(
                            Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                        )
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return None

        super().__init__(Handler)
