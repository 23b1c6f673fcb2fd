"""deploy/: the images, the one-machine trial (compose) and the Kubernetes manifests, validated offline.

The compose file is checked against the Compose Specification's JSON schema that check-jsonschema ships; the
Kustomize overlays are rendered with kustomize (`make kustomize` installs it into .local/bin) and every
resource is checked against the Kubernetes 1.31 schemas that kubernetes-validate ships (strict: unknown fields
fail), the KafkaTopics against Strimzi's CRD schema (deploy/schemas). Each validator is also shown a broken copy,
so a green run means the check can fail.
"""

import copy
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
OVERLAYS = ("dev", "production")
KUBERNETES_VERSION = "1.31.0"
STRIMZI_CRD = DEPLOY / "schemas" / "strimzi-kafkatopic-crd.yaml"
SERVICES = {"case-api": "case_api", "notifier": "notifier", "partner-gateway": "partner_gateway"}
PREFIXES = {"case-api": "CASE_API_", "notifier": "NOTIFIER_", "partner-gateway": "GATEWAY_"}
# Read without a service prefix by all three services (service_kit.settings.PLATFORM_WIDE_FIELDS).
PLATFORM_WIDE = {"OIDC_JWKS_URL", "OIDC_ISSUER", "OIDC_AUDIENCE"}


# --- helpers -----------------------------------------------------------------------------------------------


def check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    tool = Path(sys.executable).with_name("check-jsonschema")
    return subprocess.run(
        [str(tool), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def declared_topics() -> list[dict[str, Any]]:
    return yaml.safe_load((DEPLOY / "topics.yaml").read_text())["topics"]


def settings_names() -> set[str]:
    """Every variable .env.example names: the settings the services read."""
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.add(match.group(1))
    return names | PLATFORM_WIDE


def readme_processes() -> list[str]:
    """The commands of README.md's processes table (`| process | command |`)."""
    lines = (ROOT / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.replace(" ", "") == "|process|command|")
    commands: list[str] = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        commands += re.findall(r"`([^`]+)`", line.split("|")[2])
    return commands


def strict_crd_schema(schema: Any) -> Any:
    """The CRD's structural schema as JSON Schema where an unknown field fails, as the API server would prune
    it (x-kubernetes-preserve-unknown-fields keeps a node open)."""
    if isinstance(schema, dict):
        strict = {key: strict_crd_schema(value) for key, value in schema.items()}
        if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            strict["additionalProperties"] = False
        return strict
    if isinstance(schema, list):
        return [strict_crd_schema(item) for item in schema]
    return schema


def kafka_topic_schema() -> dict[str, Any]:
    crd = yaml.safe_load(STRIMZI_CRD.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return strict_crd_schema(version["schema"]["openAPIV3Schema"])


def validate_resource(resource: dict[str, Any]) -> None:
    """Raises on an invalid resource; a kind with no schema is an error too (nothing passes unchecked)."""
    if resource["apiVersion"].startswith("kafka.strimzi.io/"):
        assert resource["apiVersion"] == "kafka.strimzi.io/v1", resource["apiVersion"]
        assert resource["kind"] == "KafkaTopic", resource["kind"]
        jsonschema.Draft7Validator(kafka_topic_schema()).validate(resource)
        return
    kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


@pytest.fixture(scope="session")
def kustomize() -> Path:
    """kustomize from .local/bin, installed by `make kustomize` (go install, cached) when absent."""
    subprocess.run(["make", "-s", "kustomize"], cwd=ROOT, check=True, timeout=600)
    binary = ROOT / ".local" / "bin" / "kustomize"
    assert binary.is_file(), "make kustomize did not leave .local/bin/kustomize"
    return binary


@pytest.fixture(scope="session")
def rendered(kustomize: Path) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for overlay in OVERLAYS:
        result = subprocess.run(
            [str(kustomize), "build", str(DEPLOY / "k8s" / "overlays" / overlay)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        out[overlay] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return out


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def containers(docs: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            for container in doc["spec"]["template"]["spec"]["containers"]:
                yield doc, container


def image_default_command(service: str) -> list[str]:
    dockerfile = (ROOT / "services" / service / "Dockerfile").read_text()
    cmd = re.findall(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE)[-1]
    return list(yaml.safe_load(cmd))


def service_of_image(image: str) -> str:
    return next(name for name in SERVICES if re.search(rf"/{name}(:|$)", image))


# --- images ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile_is_multi_stage_pinned_and_non_root(service: str) -> None:
    text = (ROOT / "services" / service / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert base, "the base image is the ARG PYTHON_IMAGE"
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", base.group(1)), "pin python:3.11.N-slim-bookworm"
    assert len(re.findall(r"^FROM \$\{PYTHON_IMAGE\} AS \w+$", text, re.MULTILINE)) == 2
    assert re.search(r"^USER 10001:10001$", text, re.MULTILINE)
    assert "--constraint /tmp/constraints.txt" in text
    assert "requirements/lock.txt" in text
    assert image_default_command(service)[:3] == ["uvicorn", "--factory", f"{SERVICES[service]}.main:create_app"]
    for source in re.findall(r"^COPY (?!--from)(\S+) ", text, re.MULTILINE):
        assert (ROOT / source).exists(), f"{service}/Dockerfile copies {source}, which does not exist"


def test_dockerignore_keeps_environments_and_state_out() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert lines[lines.index("**")] == "**", "the context is an allow-list"
    for excluded in ("**/.venv", "**/.local", "**/node_modules", "**/__pycache__", "**/.mypy_cache", "**/.env"):
        assert excluded in lines
    for needed in ("requirements/lock.txt", "schemas/src/", "libs/service-kit/src/", "services/*/src/"):
        assert f"!{needed}" in lines


# --- compose -----------------------------------------------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    result = check_jsonschema(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda c: c["services"]["case-api"].update(replica=2), "replica"),  # an unknown key
        (lambda c: c["services"]["notifier"]["depends_on"]["notifier-migrate"].update(condition="done"), "done"),
    ],
    ids=["unknown-key", "unknown-depends-on-condition"],
)
def test_a_broken_compose_file_fails_validation(tmp_path: Path, breakage: Any, expected: str) -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    breakage(compose)
    broken = tmp_path / "compose.yaml"
    broken.write_text(yaml.safe_dump(compose))
    result = check_jsonschema(broken)
    assert result.returncode == 1, result.stdout
    assert expected in result.stdout + result.stderr


def test_compose_runs_every_process_after_its_migration() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    commands = {" ".join(s["command"]): name for name, s in services.items() if "command" in s}
    for command in readme_processes():
        if command.startswith("uvicorn"):
            continue  # the APIs run the image's default command
        assert command in commands, f"no compose service runs `{command}`"
    for service, package in SERVICES.items():
        api = services[service]
        assert "command" not in api
        assert api["image"].startswith(f"eviction-prevention/{service}:")
        assert "/health/ready" in " ".join(api["healthcheck"]["test"])
        migrate = f"{service}-migrate"
        assert services[migrate]["command"] == ["python", "-m", f"{package}.migrate"]
        for name, spec in services.items():
            if spec.get("image", "").startswith(f"eviction-prevention/{service}:") and name != migrate:
                assert spec["depends_on"][migrate] == {"condition": "service_completed_successfully"}, name
                assert spec["depends_on"]["kafka-topics"] == {"condition": "service_completed_successfully"}
    assert services["kafka"]["image"].startswith("apache/kafka:4.1.")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft


def test_compose_sets_only_settings_that_exist() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    known = settings_names()
    for name, spec in services.items():
        if spec.get("image", "").startswith("eviction-prevention/"):
            assert set(spec["environment"]) - known == set(), name


def test_compose_creates_every_declared_topic(tmp_path: Path) -> None:
    result = subprocess.run(
        ["sh", str(DEPLOY / "compose" / "create-topics.sh")],
        env={**os.environ, "KAFKA_TOPICS": "echo", "TOPICS_FILE": str(DEPLOY / "topics.yaml")},
        capture_output=True,
        text=True,
        check=True,
    )
    created = {line.split("--topic ")[1].split()[0]: line for line in result.stdout.splitlines()}
    assert set(created) == {topic["name"] for topic in declared_topics()}
    for topic in declared_topics():
        assert f"--partitions {topic['partitions']} " in created[topic["name"]]
        assert f"retention.ms={topic['retention_ms']}" in created[topic["name"]]


# --- Kubernetes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_every_resource_validates(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    docs = rendered[overlay]
    assert docs
    for doc in docs:
        validate_resource(doc)


def test_a_broken_manifest_fails_validation(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered["production"]
    deployment = copy.deepcopy(of_kind(docs, "Deployment")["case-api"])
    deployment["spec"]["replica"] = 3  # an unknown field: strict validation refuses it
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_resource(deployment)
    deployment = copy.deepcopy(of_kind(docs, "Deployment")["case-api"])
    deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = ["512Mi"]
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_resource(deployment)
    topic = copy.deepcopy(next(iter(of_kind(docs, "KafkaTopic").values())))
    topic["spec"]["partitions"] = 0
    with pytest.raises(jsonschema.ValidationError):
        validate_resource(topic)
    topic["spec"] = {"partitions": 3, "replica": 3}
    with pytest.raises(jsonschema.ValidationError):
        validate_resource(topic)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_declared_topic_is_a_kafka_topic(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    topics = {doc["spec"]["topicName"]: doc for doc in rendered[overlay] if doc["kind"] == "KafkaTopic"}
    assert set(topics) == {topic["name"] for topic in declared_topics()}
    for declared in declared_topics():
        topic = topics[declared["name"]]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "eviction-prevention"
        assert topic["spec"]["partitions"] == declared["partitions"]
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"]["min.insync.replicas"] == 2
        assert topic["spec"]["config"]["retention.ms"] == declared["retention_ms"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_process_has_a_deployment_and_every_migration_a_job(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    running: dict[str, str] = {}
    for doc, container in containers(rendered[overlay]):
        service = service_of_image(container["image"])
        command = container.get("command") or image_default_command(service)
        running[" ".join(command)] = doc["kind"]
    for command in readme_processes():
        expected = "Job" if command.endswith(".migrate") else "Deployment"
        if command.startswith("uvicorn"):
            package = command.split()[2].split(".")[0]
            matches = [run for run in running if run.startswith(f"uvicorn --factory {package}.main:create_app")]
            assert [running[run] for run in matches] == ["Deployment"], command
        else:
            assert running.get(command) == expected, f"no {expected} runs `{command}`"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_apis_have_probes_services_autoscalers_and_disruption_budgets(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    services, hpas, pdbs = (
        of_kind(docs, "Service"),
        of_kind(docs, "HorizontalPodAutoscaler"),
        of_kind(docs, "PodDisruptionBudget"),
    )
    for doc, container in containers(docs):
        assert {"requests", "limits"} <= set(container["resources"]), doc["metadata"]["name"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert doc["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    for name in SERVICES:
        api = of_kind(docs, "Deployment")[name]
        (container,) = api["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert services[name]["spec"]["selector"] == api["spec"]["selector"]["matchLabels"]
        assert hpas[name]["spec"]["scaleTargetRef"]["name"] == name
        assert pdbs[name]["spec"]["selector"]["matchLabels"] == api["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_values_only_references(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    docs = rendered[overlay]
    for secret in of_kind(docs, "Secret").values():
        assert not secret.get("data"), secret["metadata"]["name"]
        assert not secret.get("stringData"), secret["metadata"]["name"]
    known = settings_names()
    runbook = (ROOT / "docs" / "operations.md").read_text() if (ROOT / "docs" / "operations.md").exists() else ""
    for config in of_kind(docs, "ConfigMap").values():
        assert set(config["data"]) - known == set(), config["metadata"]["name"]
        assert not [key for key in config["data"] if re.search(r"DATABASE_URL|_KEY$|SECRET|PASSWORD", key)]
    for _doc, container in containers(docs):
        for variable in container.get("env", []):
            assert variable["name"] in known
            reference = variable["valueFrom"]["secretKeyRef"]  # every single variable comes from a Secret
            if runbook:
                assert f"`{reference['name']}`" in runbook, f"docs/operations.md does not name {reference['name']}"


def test_production_runs_in_production_mode(rendered: dict[str, list[dict[str, Any]]]) -> None:
    settings = {}
    for config in of_kind(rendered["production"], "ConfigMap").values():
        settings.update(config["data"])
    for prefix in PREFIXES.values():
        assert settings[f"{prefix}ENVIRONMENT"] == "production"
        assert settings[f"{prefix}OIN"] != "00000001234567890000"
    assert settings["OIDC_JWKS_URL"].startswith("https://")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_deny_by_default(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    policies = of_kind(rendered[overlay], "NetworkPolicy")
    deny = policies["ep-default-deny"]
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny["spec"]
    assert "egress" not in deny["spec"]
    for doc, _ in containers(rendered[overlay]):
        labels = doc["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "eviction-prevention", doc["metadata"]["name"]
    webhooks = policies["ep-allow-partner-webhooks"]["spec"]["egress"][0]
    assert webhooks["ports"] == [{"protocol": "TCP", "port": 443}]
    assert "10.0.0.0/8" in webhooks["to"][0]["ipBlock"]["except"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_process_can_be_scraped_by_prometheus(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    for name, deployment in of_kind(rendered[overlay], "Deployment").items():
        template = deployment["spec"]["template"]
        annotations = template["metadata"].get("annotations", {})
        assert annotations.get("prometheus.io/scrape") == "true", name
        if template["metadata"]["labels"].get("app.kubernetes.io/component") != "api":
            ports = {port.get("name"): port["containerPort"] for port in template["spec"]["containers"][0]["ports"]}
            assert ports.get("metrics") == int(annotations["prometheus.io/port"]), name


# --- secrets, service tokens and the flows they need -------------------------------------------------------


def service_settings(service: str) -> Any:
    """The service's Settings class (imported here only: the rest of this module reads files)."""
    module = __import__(f"{SERVICES[service]}.config", fromlist=["Settings"])
    return module.Settings


def secret_settings(service: str) -> set[str]:
    """The variables a production process of `service` refuses to start without (Settings.secret_fields)."""
    settings = service_settings(service).model_construct()  # the defaults, unvalidated: only the names count
    return {PREFIXES[service] + name.upper() for name in settings.secret_fields()}


def case_api_clients() -> dict[str, str]:
    """Worker modules of the notifier and the gateway that call case-api's API (they build a CaseApi client),
    by their `python -m` command, with their service."""
    clients = {}
    for service, package in SERVICES.items():
        if service == "case-api":
            continue
        for path in sorted((ROOT / "services" / service / "src" / package / "workers").glob("*.py")):
            if re.search(r"\bCaseApi\b|\bopen_case_api\b", path.read_text()):
                clients[f"python -m {package}.workers.{path.stem}"] = service
    return clients


def pod_labels(doc: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = doc["spec"]["template"]["metadata"]["labels"]
    return labels


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"only matchLabels is understood here: {selector}"
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


def allowed(policies: dict[str, dict[str, Any]], source: dict[str, str], target: dict[str, str], port: int) -> bool:
    """Whether the NetworkPolicies of one namespace let pods labelled `source` open `port` on pods labelled
    `target`: some policy allows the source's egress to it and some policy allows the target's ingress from it."""

    def peer_matches(peer: dict[str, Any], labels: dict[str, str]) -> bool:
        return "namespaceSelector" not in peer and "podSelector" in peer and selects(peer["podSelector"], labels)

    def rule_allows(rule: dict[str, Any], peers_key: str, labels: dict[str, str]) -> bool:
        ports = rule.get("ports")
        port_ok = ports is None or any(p.get("port") == port and p.get("protocol", "TCP") == "TCP" for p in ports)
        return port_ok and any(peer_matches(peer, labels) for peer in rule.get(peers_key, []))

    egress = any(
        selects(p["spec"]["podSelector"], source) and rule_allows(rule, "to", target)
        for p in policies.values()
        for rule in p["spec"].get("egress", [])
    )
    ingress = any(
        selects(p["spec"]["podSelector"], target) and rule_allows(rule, "from", source)
        for p in policies.values()
        for rule in p["spec"].get("ingress", [])
    )
    return egress and ingress


def test_the_case_api_clients_are_found() -> None:
    # The derivation below must not be vacuous: these three call case-api today.
    assert {
        "python -m notifier.workers.dispatcher",
        "python -m partner_gateway.workers.delivery",
        "python -m partner_gateway.workers.inbound",
    } <= set(case_api_clients())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_process_gets_the_secrets_production_demands(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    """With ENVIRONMENT=production a process refuses to start while one of its service's secret settings holds
    its development value, so every Deployment and Job of a service sets all of them, from Secrets."""
    for doc, container in containers(rendered[overlay]):
        service = service_of_image(container["image"])
        names = {variable["name"] for variable in container.get("env", [])}
        missing = secret_settings(service) - names
        assert not missing, f"{doc['metadata']['name']} does not set {sorted(missing)}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_case_api_clients_have_the_token_url_and_network_policies(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    settings: dict[str, str] = {}
    for config in of_kind(docs, "ConfigMap").values():
        settings.update(config["data"])
    deployments = of_kind(docs, "Deployment")
    policies = of_kind(docs, "NetworkPolicy")
    case_api = pod_labels(deployments["case-api"])
    clients = case_api_clients()
    found = set()
    for doc, container in containers(docs):
        command = " ".join(container.get("command") or [])
        if command not in clients:
            continue
        found.add(command)
        name, prefix = doc["metadata"]["name"], PREFIXES[clients[command]]
        assert settings[f"{prefix}CASE_API_URL"] == "http://case-api", name
        token_dir = str(Path(settings[f"{prefix}CASE_API_TOKEN_FILE"]).parent)
        mounts = [m for m in container.get("volumeMounts", []) if m["mountPath"] == token_dir]
        assert len(mounts) == 1, f"{name} does not mount its case-api token at {token_dir}"
        (volume,) = [v for v in doc["spec"]["template"]["spec"]["volumes"] if v["name"] == mounts[0]["name"]]
        assert "secretName" in volume.get("secret", {}), f"{name}: the token comes from a Secret"
        assert allowed(policies, pod_labels(doc), case_api, 8000), f"no NetworkPolicy lets {name} reach case-api"
    assert found == set(clients)
    # And the NetworkPolicies are not open to everyone: a process that does not call case-api cannot reach it.
    relay = pod_labels(deployments["partner-gateway-outbox-relay"])
    assert not allowed(policies, relay, case_api, 8000)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_has_a_disruption_budget_and_a_liveness_probe(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    """Workers too: their liveness is the metrics port's /health/live (the event loop's heartbeat, service_kit
    metrics.Heartbeat); the one-pod workers (deadlines, retention: Recreate on purpose) have a budget that allows
    their one pod to move, so a node drain is not blocked and the budget says so."""
    pdbs = of_kind(rendered[overlay], "PodDisruptionBudget").values()
    for name, deployment in of_kind(rendered[overlay], "Deployment").items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            probe = container["livenessProbe"]["httpGet"]
            assert probe["path"] == "/health/live", name
            assert probe["port"] in {port["name"] for port in container["ports"]}, name
        labels = pod_labels(deployment)
        assert [pdb for pdb in pdbs if selects(pdb["spec"]["selector"], labels)], f"no PodDisruptionBudget for {name}"


def test_compose_gives_case_api_clients_the_url_and_token() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    clients = case_api_clients()
    found = set()
    for name, spec in services.items():
        command = " ".join(spec.get("command", []))
        if command not in clients:
            continue
        found.add(command)
        prefix, environment = PREFIXES[clients[command]], spec.get("environment", {})
        assert environment.get(f"{prefix}CASE_API_URL") == "http://case-api:8000", f"{name} does not find case-api"
        token = environment.get(f"{prefix}CASE_API_TOKEN_FILE")
        assert token, f"{name} has no {prefix}CASE_API_TOKEN_FILE"
        assert any(str(v).endswith(f":{token}:ro") for v in spec.get("volumes", [])), f"{name} does not mount {token}"
    assert found == set(clients)


def test_the_production_overlay_ships_only_placeholder_oins_that_production_refuses(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """An overlay applied without its REPLACE lines filled in must not start: every OIN it carries is a placeholder
    (the rule of docs/operations.md), so each service's production settings refuse it at start-up."""
    from service_kit.settings import is_placeholder_oin

    oins = {
        key: value
        for doc in of_kind(rendered["production"], "ConfigMap").values()
        for key, value in (doc.get("data") or {}).items()
        if key.endswith("_OIN")
    }
    assert set(oins) == {"CASE_API_OIN", "NOTIFIER_OIN", "GATEWAY_OIN"}
    assert all(is_placeholder_oin(oin) for oin in oins.values()), oins
    assert not is_placeholder_oin("00000001002220647000")  # a municipality's OIN passes
