"""The platform's processes (APIs and workers of the three services), started and stopped together.

`make run` uses it on SQLite with a local broker; the end-to-end tests use it on PostgreSQL with the
session's broker. Every child is started in its own process group and stopped by its pid. The services trust
the development signing key in `oidc_dir` (devinfra.devkey); `Stack.token(...)` mints a bearer token of it.
"""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx

from devinfra import reaper
from devinfra.devkey import DevKey, dev_oidc_dir
from service_kit.settings import DEFAULT_OIDC_AUDIENCE, DEVELOPMENT_OIDC_ISSUER

SERVICES = ("case-api", "notifier", "partner-gateway")
ENV_PREFIX = {"case-api": "CASE_API_", "notifier": "NOTIFIER_", "partner-gateway": "GATEWAY_"}
PACKAGE = {"case-api": "case_api", "notifier": "notifier", "partner-gateway": "partner_gateway"}
WORKERS = {
    "case-api": ("outbox_relay", "deadlines", "retention", "notification_events"),
    "notifier": ("consumer", "dispatcher", "outbox_relay"),
    "partner-gateway": ("consumer", "delivery", "inbound", "outbox_relay"),
}


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    tracked: Path | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.tracked = reaper.track(self.process.pid, what=self.name)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            assert self.process is not None
            os.kill(self.process.pid, signum)

    def stop(self, timeout: float = 15) -> None:
        if not self.alive():
            reaper.untrack(self.tracked)
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        reaper.untrack(self.tracked)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


@dataclass
class Stack:
    kafka_bootstrap: str
    database_urls: dict[str, str]
    ports: dict[str, int]
    state_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    # Workers whose Prometheus metrics server to start, by child name ("notifier-consumer"): its port.
    metrics_ports: dict[str, int] = field(default_factory=dict)
    # The development key the services trust; default: the key `make token` signs with (.local/dev-oidc).
    oidc_dir: Path = field(default_factory=dev_oidc_dir)
    # Pass the caller's CASE_API_*, NOTIFIER_* and GATEWAY_* variables on to the services (`make run`: the
    # environment configures them, as the README says). Off for the tests' stacks, which a developer's shell
    # must not change; the stack's own settings (env_for) win either way.
    inherit_service_env: bool = False
    children: list[Child] = field(default_factory=list)

    @property
    def outbox_dir(self) -> Path:
        return self.state_dir / "outbox"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def jwks_path(self) -> Path:
        return DevKey(self.oidc_dir.resolve()).jwks_path

    def ensure_dev_key(self) -> DevKey:
        """The development key in oidc_dir, generated on first use; its JWKS is what the services read."""
        return DevKey.ensure(self.oidc_dir)

    def token(self, *roles: str, team: str | None = None, subject: str | None = None) -> str:
        """A bearer token the services accept: `stack.token("team_lead", team="team-noord")`."""
        return self.ensure_dev_key().mint_token(roles, team=team, subject=subject)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def env_for(self, service: str) -> dict[str, str]:
        """The environment of `service`'s processes: the caller's (its services' variables only when
        `inherit_service_env`), then the stack's own settings, which always win: where the databases, the data,
        the broker, the outbox, case-api and the service tokens are, and which signing key to trust."""
        prefix = ENV_PREFIX[service]
        prefixes = () if self.inherit_service_env else tuple(ENV_PREFIX.values())
        env = {key: value for key, value in os.environ.items() if not (prefixes and key.startswith(prefixes))}
        env.update(
            {
                f"{prefix}DATABASE_URL": self.database_urls.get(service, ""),
                f"{prefix}DATA_DIR": str(self.state_dir / "data"),
                f"{prefix}KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
                "NOTIFIER_OUTBOX_DIR": str(self.outbox_dir),
                # The gateway forwards partner messages to case-api with the service role's token.
                "GATEWAY_CASE_API_URL": self.url("case-api"),
                "GATEWAY_CASE_API_TOKEN_FILE": str(self.gateway_token_file),
                # The notifier reads households and creates caseworker tasks there with its service role's token.
                "NOTIFIER_CASE_API_URL": self.url("case-api"),
                "NOTIFIER_CASE_API_TOKEN_FILE": str(self.notifier_token_file),
                "PYTHONUNBUFFERED": "1",
            }
        )
        # Trust the key this stack mints tokens with: under the platform-wide names, and under the prefixed
        # ones too, which a developer's .env cannot override.
        oidc = {
            "OIDC_JWKS_URL": str(self.jwks_path),
            "OIDC_ISSUER": DEVELOPMENT_OIDC_ISSUER,
            "OIDC_AUDIENCE": DEFAULT_OIDC_AUDIENCE,
        }
        env.update(oidc)
        env.update({prefix + name: value for name, value in oidc.items()})
        env.update(self.extra_env)
        return env

    def migrate(self) -> None:
        for service in SERVICES:
            subprocess.run([sys.executable, "-m", f"{PACKAGE[service]}.migrate"], env=self.env_for(service), check=True)

    @property
    def gateway_token_file(self) -> Path:
        return self.state_dir / "gateway-service-token"

    def write_gateway_token(self) -> None:
        """The partner gateway's service token for case-api (a week: the length of a long local session);
        in production a client-credentials sidecar keeps this file fresh."""
        self._write_service_token(self.gateway_token_file, role="partner_gateway", subject="partner-gateway")

    @property
    def notifier_token_file(self) -> Path:
        return self.state_dir / "notifier-service-token"

    def write_notifier_token(self) -> None:
        """The notifier's service token for case-api, as write_gateway_token writes the gateway's."""
        self._write_service_token(self.notifier_token_file, role="notifier", subject="notifier")

    def _write_service_token(self, path: Path, *, role: str, subject: str) -> None:
        token = self.ensure_dev_key().mint_token([role], subject=subject, lifetime=timedelta(days=7))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(token + "\n")
        path.chmod(0o600)

    def start(self, *, workers: bool = True) -> None:
        """Every service's API and, unless `workers` is False (APIs alone, e.g. to fuzz them), its workers."""
        self.ensure_dev_key()  # before the APIs start, so they find the JWKS at their first request
        self.write_gateway_token()
        self.write_notifier_token()
        for service in SERVICES:
            package = PACKAGE[service]
            env = self.env_for(service)
            api = [
                sys.executable, "-m", "uvicorn", "--factory", f"{package}.main:create_app",
                "--host", "127.0.0.1", "--port", str(self.ports[service]), "--no-access-log",
            ]  # fmt: skip
            self.children.append(Child(f"{service}-api", api, env, self.log_dir / f"{service}-api.log"))
            for worker in WORKERS[service] if workers else ():
                name = f"{service}-{worker}"
                argv = [sys.executable, "-m", f"{package}.workers.{worker}"]
                worker_env = {**env, f"{ENV_PREFIX[service]}METRICS_PORT": str(self.metrics_ports.get(name, 0))}
                self.children.append(Child(name, argv, worker_env, self.log_dir / f"{name}.log"))
        for child in self.children:
            child.start()

    def child(self, name: str) -> Child:
        return next(child for child in self.children if child.name == name)

    def wait_ready(self, timeout: float = 60, *, probe: str = "/health/ready") -> None:
        """Until every API answers 200 on `probe` (`/health/live` for APIs without a broker)."""
        deadline = time.monotonic() + timeout
        pending = set(SERVICES)
        while pending and time.monotonic() < deadline:
            for child in self.children:
                if not child.alive():
                    raise RuntimeError(f"{child.name} exited early:\n{child.log_tail()}")
            for service in list(pending):
                try:
                    if httpx.get(self.url(service) + probe, timeout=5).status_code == 200:
                        pending.discard(service)
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        if pending:
            raise TimeoutError(f"not ready after {timeout}s: {', '.join(sorted(pending))}")

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
