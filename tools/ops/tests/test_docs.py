"""`make docs`: static HTML of the three OpenAPI documents and the AsyncAPI document, without network access;
and the README's Mermaid architecture diagram."""

import re
import subprocess
import sys
from html import escape
from pathlib import Path

import yaml

from devinfra.topics import REPOSITORY_ROOT
from ep_ops.docs import ASYNCAPI_DOCUMENT, REDOC_FILE, build
from service_kit.errors import DomainError, catalogue

REMOTE_ASSET = re.compile(r"""<(?:script|link|img)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)
CSS_IMPORT = re.compile(r"""@import\s+(?:url\()?["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//""", re.IGNORECASE)
LOCAL_REFERENCE = re.compile(r"""<(?:script|link|a)\b[^>]*\b(?:src|href)="([^"#]+)""", re.IGNORECASE)


def test_docs_build_offline_pages_that_use_only_local_assets(tmp_path: Path) -> None:
    site = tmp_path / "site"
    pages = build(site)
    expected = [
        site / "index.html",
        site / "case-api" / "index.html",
        site / "notifier" / "index.html",
        site / "partner-gateway" / "index.html",
        site / "asyncapi" / "index.html",
    ]
    assert pages[: len(expected)] == expected
    assert site / "problems" / "index.html" in pages
    assert (site / "assets" / REDOC_FILE).stat().st_size > 100_000
    for service in ("case-api", "notifier", "partner-gateway"):
        assert (site / service / "openapi.json").is_file()
        html = (site / service / "index.html").read_text()
        assert f'<script src="../assets/{REDOC_FILE}">' in html
        assert '"openapi": "3.' in html
    for page in pages:
        html = page.read_text()
        assert not REMOTE_ASSET.search(html), f"{page} loads something from the network"
        assert not CSS_IMPORT.search(html), f"{page} imports CSS from the network"
        for reference in LOCAL_REFERENCE.findall(html):
            if reference.startswith(("http://", "https://", "mailto:")):
                continue  # a plain link in a description, not an asset
            assert (page.parent / reference).resolve().is_file(), f"{page} refers to missing {reference}"
    index = (site / "index.html").read_text()
    for href in (
        "case-api/index.html",
        "notifier/index.html",
        "partner-gateway/index.html",
        "asyncapi/index.html",
        "problems/index.html",
    ):
        assert f'href="{href}"' in index


def test_the_asyncapi_page_lists_every_topic_and_message(tmp_path: Path) -> None:
    build(tmp_path / "site")
    html = (tmp_path / "site" / "asyncapi" / "index.html").read_text()
    document = yaml.safe_load(ASYNCAPI_DOCUMENT.read_text())
    for channel in document["channels"].values():
        assert f"<code>{channel['address']}</code>" in html
    for key, message in document["components"]["messages"].items():
        assert message["name"] in html
        assert key in html
    for operation_id in document["operations"]:
        assert f'id="operation-{operation_id}"' in html


def test_every_problem_type_of_the_three_services_has_its_page(tmp_path: Path) -> None:
    build(tmp_path / "site", problem_base="https://docs.gemeente.example/problems/")
    problems = tmp_path / "site" / "problems"
    index = (problems / "index.html").read_text()
    for code, problem_type in catalogue().items():
        assert f'href="{code}.html"' in index
        page = (problems / f"{code}.html").read_text()
        assert escape(problem_type.title) in page
        assert escape(problem_type.fix) in page
        assert f"https://docs.gemeente.example/problems/{code}" in page
    # one of each service's own refusals, so a service whose app was not built would be noticed
    for code in ("precondition-failed", "case-api-unavailable", "bad-signature"):
        assert (problems / f"{code}.html").is_file()


def test_make_docs_runs_as_a_module(tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "ep_ops.docs", "--out", str(out)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert (out / "index.html").is_file()


def test_the_readme_has_the_mermaid_architecture_diagram() -> None:
    readme = (REPOSITORY_ROOT / "README.md").read_text()
    diagrams = re.findall(r"```mermaid\n(.*?)```", readme, re.DOTALL)
    assert diagrams, "README.md lost its Mermaid architecture diagram"
    diagram = diagrams[0]
    assert diagram.lstrip().startswith(("flowchart", "graph"))
    for part in ("case-api", "outbox", "Kafka", "notifier", "gateway", "partners"):
        assert part in diagram, f"the architecture diagram no longer shows {part}"


def test_every_refusal_with_its_own_code_says_its_own_title_and_fix(tmp_path: Path) -> None:
    """A DomainError subclass that names a code of its own names its title and fix too: otherwise its page would
    show its parent's words for a different problem."""
    build(tmp_path / "site")  # imports the three services' apps and so every subclass
    pending: list[type[DomainError]] = [DomainError]
    seen: dict[str, type[DomainError]] = {}
    while pending:
        error = pending.pop()
        pending.extend(error.__subclasses__())
        if "code" not in vars(error):
            continue
        assert "title" in vars(error), f"{error.__qualname__} names a code but no title"
        assert "fix" in vars(error), f"{error.__qualname__} names a code but no fix"
        assert error.code not in seen or seen[error.code].title == error.title, f"two titles for {error.code}"
        seen[error.code] = error
    assert len(seen) >= 14
