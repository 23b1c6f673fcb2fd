"""Helpers listening on a loopback port: a process (the SMTP sink, the SMS provider stand-in) started, waited for
until it listens, and stopped by its own pid only; and an HTTP server in a thread of the test's own process (the
webhook receiver, the fuzzer's signing proxy)."""

import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Self


class LoopbackProcess:
    def __init__(self, what: str, port: int) -> None:
        self.what = what
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, argv: Sequence[str], timeout: float = 15.0) -> None:
        # Its stderr goes to a file, never to a pipe nobody reads: a client killed mid-session makes the server log
        # a traceback, and a full pipe would block the server for every later client.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (open as long as the process runs; closed by stop)
        self._process = process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=self._stderr)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"{self.what} exited: {self.errors()}") from None
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.what} did not listen on {self.port} within {timeout} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # SIGTERM to this process's pid only
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        finally:
            if self._stderr is not None:
                self._stderr.close()
                self._stderr = None

    def errors(self) -> str:
        """What the process wrote to stderr so far."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")


class ThreadedHttpServer:
    """`handler` served on a free loopback port from a thread, for as long as the `with` block runs."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
