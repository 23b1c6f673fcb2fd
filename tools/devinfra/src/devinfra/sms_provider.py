"""A local stand-in for CM.com's Business Messaging API, for tests and `make run` (docs/adr/0010-sms-provider.md).

    python -m devinfra.sms_provider --port N --store DIR [--report-url URL] [--product-token T]
                                    [--fail-suffix 9999 ...] [--report-delay SECONDS]

It answers `POST /v1.0/message` as CM's JSON gateway does: the product token (header X-CM-PRODUCTTOKEN or
`messages.authentication.producttoken`) is checked, then every msg and number; the answer has CM's shape
(`details`, `errorCode`, `messages[]` with `status` Accepted/Rejected and `messageErrorCode`). Every accepted
message is one JSON line in DIR/messages.jsonl. With --report-url, a CM status report (JSON) is posted for each
message after --report-delay seconds, with the HTTP Basic credentials of the URL: delivered (2), or failed (3,
standard error 23: invalid number) for a number ending in a --fail-suffix. What each report post got back is a
JSON line in DIR/reports.jsonl.
"""

import argparse
import base64
import json
import math
import re
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from devinfra.loopback import LoopbackProcess
from devinfra.ports import free_port

DEFAULT_PRODUCT_TOKEN = "dev-change-me-sms-product-token"  # noqa: S105 - the development placeholder of config.py
DEFAULT_FAIL_SUFFIXES = ("9999",)
MESSAGE_PATH = "/v1.0/message"
MESSAGES_FILE = "messages.jsonl"
REPORTS_FILE = "reports.jsonl"

# CM's sender: up to 11 alphanumerics, or a number of up to 16 digits.
_SENDER = re.compile(r"^(?:[A-Za-z0-9 ]{1,11}|\+?\d{1,16})$")
# CM's number format: 00, the country code, the number; no +, no spaces.
_NUMBER = re.compile(r"^00\d{7,15}$")
_REFERENCE = re.compile(r"^[A-Za-z0-9]{1,32}$")
# The characters of the GSM 03.38 default alphabet (and its extension table): anything else makes it Unicode.
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)


def message_parts(content: str) -> int:
    """How many SMS parts CM makes of `content`: 160/153 characters in GSM-7, 70/67 in Unicode."""
    gsm = all(character in _GSM7 for character in content)
    single, part = (160, 153) if gsm else (70, 67)
    return 1 if len(content) <= single else math.ceil(len(content) / part)


def report_body(*, number: str, reference: str, failed: bool, at: datetime) -> dict[str, Any]:
    """A status report in CM's JSON format; CM writes every value as a string."""
    return {
        "messages": {
            "msg": {
                "received": at.strftime("%Y-%m-%dT%H:%M:%S"),
                "to": number,
                "reference": reference,
                "status": {
                    "code": "3" if failed else "2",
                    "errorCode": "23" if failed else "0",
                    "errorDescription": "Invalid or permanently barred MSISDN" if failed else "",
                },
                "operator": "20416",
            }
        }
    }


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """The URL without its user:password@, and the HTTP Basic credentials it carried."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc)), (parts.username, parts.password or "")


class SmsGateway:
    """What the server does with a request, apart from HTTP: check, store, answer, schedule reports."""

    def __init__(
        self,
        store: Path,
        *,
        product_token: str,
        report_url: str | None,
        fail_suffixes: Sequence[str],
        report_delay: float,
    ) -> None:
        self.store = store
        self.store.mkdir(parents=True, exist_ok=True)
        self.product_token = product_token
        self.report_url = report_url
        self.fail_suffixes = tuple(fail_suffixes)
        self.report_delay = report_delay
        self._lock = threading.Lock()

    def _append(self, name: str, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock, (self.store / name).open("a", encoding="utf-8") as file:
            file.write(line)
            file.flush()

    def handle(self, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        """(HTTP status, CM's JSON answer) for one POST of the JSON gateway."""
        try:
            request = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return 400, {"details": "Request body is not valid JSON", "errorCode": 202, "messages": []}
        envelope = request.get("messages") if isinstance(request, dict) else None
        if not isinstance(envelope, dict):
            return 400, {"details": "A 'messages' object is required", "errorCode": 202, "messages": []}
        token = headers.get("x-cm-producttoken") or self._body_token(envelope)
        if not token or token != self.product_token:
            return 400, {"details": "No account found for the given authentication", "errorCode": 101, "messages": []}
        msgs = envelope.get("msg")
        if not isinstance(msgs, list) or not msgs:
            return 400, {"details": "A MESSAGES node requires at least one MSG node", "errorCode": 203, "messages": []}
        results = [result for msg in msgs for result in self._check(msg)]
        created = sum(1 for result in results if result["status"] == "Accepted")
        rejected = len(results) - created
        answer = {"details": f"Created {created} message(s)", "errorCode": 201 if rejected else 0, "messages": results}
        return (400 if created == 0 else 200), answer

    @staticmethod
    def _body_token(envelope: dict[str, Any]) -> str | None:
        authentication = envelope.get("authentication")
        if not isinstance(authentication, dict):
            return None
        for key, value in authentication.items():
            if key.lower() == "producttoken" and isinstance(value, str):
                return value
        return None

    def _check(self, msg: object) -> Iterator[dict[str, Any]]:
        if not isinstance(msg, dict):
            yield self._rejected("", "", "A MSG node must be an object", 305)
            return
        reference = msg.get("reference")
        reference = reference if isinstance(reference, str) else ""
        recipients = msg.get("to")
        if not isinstance(recipients, list) or not recipients:
            yield self._rejected("", reference, "No phone numbers found. Message will not be sent.", 302)
            return
        sender = msg.get("from")
        body = msg.get("body")
        content = body.get("content") if isinstance(body, dict) else None
        for recipient in recipients:
            number = recipient.get("number") if isinstance(recipient, dict) else None
            number = number if isinstance(number, str) else ""
            if not isinstance(sender, str) or not _SENDER.match(sender):
                yield self._rejected(number, reference, "No FROM field found or it is invalid", 301)
            elif not _NUMBER.match(number):
                yield self._rejected(number, reference, f"Gsm '{number}' is not a number.", 303)
            elif not isinstance(content, str) or not content:
                yield self._rejected(number, reference, "A body without content was found", 304)
            elif reference and not _REFERENCE.match(reference):
                yield self._rejected(number, reference, "The reference must be 1 to 32 alphanumerics", 305)
            else:
                yield self._accept(msg, sender=sender, number=number, content=content, reference=reference)

    @staticmethod
    def _rejected(number: str, reference: str, details: str, code: int) -> dict[str, Any]:
        return {
            "to": number,
            "status": "Rejected",
            "reference": reference or None,
            "parts": 0,
            "messageDetails": details,
            "messageErrorCode": code,
        }

    def _accept(self, msg: dict[str, Any], *, sender: str, number: str, content: str, reference: str) -> dict[str, Any]:
        parts = message_parts(content)
        failed = number.endswith(self.fail_suffixes)
        body = msg.get("body")
        self._append(
            MESSAGES_FILE,
            {
                "received_at": datetime.now(UTC).isoformat(),
                "from": sender,
                "to": number,
                "reference": reference or None,
                "body_type": body.get("type") if isinstance(body, dict) else None,
                "content": content,
                "parts": parts,
                "will_fail": failed,
            },
        )
        if self.report_url and reference:
            timer = threading.Timer(self.report_delay, self._post_report, args=(number, reference, failed))
            timer.daemon = True
            timer.start()
        return {
            "to": number,
            "status": "Accepted",
            "reference": reference or None,
            "parts": parts,
            "messageDetails": None,
            "messageErrorCode": 0,
        }

    def _post_report(self, number: str, reference: str, failed: bool) -> None:
        assert self.report_url is not None
        url, credentials = split_credentials(self.report_url)
        body = report_body(number=number, reference=reference, failed=failed, at=datetime.now(UTC))
        headers = {"Content-Type": "application/json"}
        if credentials is not None:
            token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        # CM retries a report that is not answered 2xx (for up to 7 days); locally a few times, quickly.
        outcome: dict[str, Any] = {"reference": reference, "to": number, "code": body["messages"]["msg"]["status"]}
        for attempt in range(1, 6):
            try:
                response = httpx.post(url, content=json.dumps(body).encode(), headers=headers, timeout=10)
            except httpx.HTTPError as error:
                outcome.update(attempts=attempt, http_status=None, error=type(error).__name__)
            else:
                outcome.update(attempts=attempt, http_status=response.status_code, error=None)
                if 200 <= response.status_code < 300:
                    break
            time.sleep(0.2 * 2 ** (attempt - 1))
        self._append(REPORTS_FILE, outcome)


def make_server(host: str, port: int, gateway: SmsGateway) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != MESSAGE_PATH:
                self._answer(404, {"details": f"Not found; the gateway is POST {MESSAGE_PATH}", "errorCode": 999})
                return
            length = int(self.headers.get("content-length", "0") or 0)
            raw = self.rfile.read(length)
            status, answer = gateway.handle({k.lower(): v for k, v in self.headers.items()}, raw)
            self._answer(status, answer)

        def _answer(self, status: int, answer: dict[str, Any]) -> None:
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            return None

    return ThreadingHTTPServer((host, port), Handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devinfra.sms_provider", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", type=Path, required=True, help="folder for messages.jsonl and reports.jsonl")
    parser.add_argument("--report-url", default=None, help="where status reports go; user:password@ for Basic")
    parser.add_argument("--product-token", default=DEFAULT_PRODUCT_TOKEN)
    parser.add_argument(
        "--fail-suffix",
        action="append",
        dest="fail_suffixes",
        help="a number ending in this gets a failed report (repeatable; default 9999)",
    )
    parser.add_argument("--report-delay", type=float, default=0.2, help="seconds before a status report is posted")
    args = parser.parse_args(argv)
    gateway = SmsGateway(
        args.store,
        product_token=args.product_token,
        report_url=args.report_url,
        fail_suffixes=args.fail_suffixes or DEFAULT_FAIL_SUFFIXES,
        report_delay=args.report_delay,
    )
    server = make_server(args.host, args.port, gateway)
    # SIGTERM stops serving cleanly; shutdown() must come from another thread than serve_forever's.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    print(f"CM stand-in listening on http://{args.host}:{args.port}{MESSAGE_PATH}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class LocalSmsProvider:
    """The stand-in as a process on a free loopback port: start, wait until it listens, read, stop by its pid."""

    def __init__(
        self,
        store: Path,
        *,
        port: int | None = None,
        product_token: str = DEFAULT_PRODUCT_TOKEN,
        report_url: str | None = None,
        fail_suffixes: Iterable[str] = DEFAULT_FAIL_SUFFIXES,
        report_delay: float = 0.2,
    ) -> None:
        self.store = store
        self.port = port or free_port()
        self.product_token = product_token
        self.report_url = report_url
        self.fail_suffixes = tuple(fail_suffixes)
        self.report_delay = report_delay
        self._process = LoopbackProcess("the SMS provider stand-in", self.port)

    @property
    def url(self) -> str:
        """The gateway URL, what NOTIFIER_SMS_API_URL points to."""
        return f"http://127.0.0.1:{self.port}{MESSAGE_PATH}"

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def start(self, timeout: float = 15.0) -> "LocalSmsProvider":
        command = [
            sys.executable,
            "-m",
            "devinfra.sms_provider",
            "--port",
            str(self.port),
            "--store",
            str(self.store),
            "--product-token",
            self.product_token,
            "--report-delay",
            str(self.report_delay),
        ]
        for suffix in self.fail_suffixes:
            command += ["--fail-suffix", suffix]
        if self.report_url:
            command += ["--report-url", self.report_url]
        self._process.start(command, timeout)
        return self

    def stop(self) -> None:
        self._process.stop()

    def messages(self) -> list[dict[str, Any]]:
        """Every message the stand-in accepted, in order."""
        return _read_lines(self.store / MESSAGES_FILE)

    def reports(self) -> list[dict[str, Any]]:
        """Every status report it posted, with the HTTP status its last attempt got."""
        return _read_lines(self.store / REPORTS_FILE)

    def wait_for_reports(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reports = self.reports()
            if len(reports) >= count:
                return reports
            time.sleep(0.05)
        raise AssertionError(f"{count} status report(s) expected within {timeout} s, got {len(self.reports())}")

    def __enter__(self) -> "LocalSmsProvider":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    sys.exit(main())
