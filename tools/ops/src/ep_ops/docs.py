"""`make docs` (`python -m ep_ops.docs --out docs/site`): static HTML of the three OpenAPI documents, the
AsyncAPI document and the RFC 9457 problem types (problems/{code}.html) that opens from disk without network
access.

OpenAPI pages use ReDoc's standalone bundle shipped in fastapi-offline, copied next to them, with the spec
inline (browsers refuse to fetch a sibling file from file://). The AsyncAPI page is rendered here with Jinja2.
"""

import argparse
import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI
from jinja2 import Environment, PackageLoader, select_autoescape

from devinfra.topics import REPOSITORY_ROOT
from service_kit.errors import catalogue
from service_kit.problem_types import index_page, problem_page

ASYNCAPI_DOCUMENT = REPOSITORY_ROOT / "schemas" / "asyncapi" / "asyncapi.yaml"
DEFAULT_OUT = REPOSITORY_ROOT / "docs" / "site"
REDOC_FILE = "redoc.standalone.js"
# Where the site's problems/ directory is published; a deployment sets each service's PROBLEM_TYPE_BASE to it.
DEFAULT_PROBLEM_BASE = "problems/"


@dataclass(frozen=True)
class Service:
    slug: str
    create_app: Callable[[], FastAPI]


def _case_api() -> FastAPI:
    from case_api.config import Settings
    from case_api.main import create_app

    return create_app(Settings(_env_file=None))


def _notifier() -> FastAPI:
    from notifier.config import Settings
    from notifier.main import create_app

    return create_app(Settings(_env_file=None))


def _partner_gateway() -> FastAPI:
    from partner_gateway.config import Settings
    from partner_gateway.main import create_app

    return create_app(Settings(_env_file=None))


SERVICES = (
    Service("case-api", _case_api),
    Service("notifier", _notifier),
    Service("partner-gateway", _partner_gateway),
)


def redoc_bundle() -> Path:
    """ReDoc's standalone JavaScript as fastapi-offline ships it (the services' /docs use the same assets)."""
    return Path(str(files("fastapi_offline") / "static" / REDOC_FILE))


def _templates() -> Environment:
    environment = Environment(loader=PackageLoader("ep_ops", "templates"), autoescape=select_autoescape())
    # JSON inside <script type="application/json">: "</" must not close the element.
    environment.filters["script_json"] = lambda value: json.dumps(value).replace("</", "<\\/")
    return environment


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def asyncapi_view(document: dict[str, Any], *, schema_dir: Path) -> dict[str, Any]:
    """The AsyncAPI document flattened for the template: channels with their messages, operations, schemas."""
    messages = document.get("components", {}).get("messages", {})
    channels = []
    for channel_id, channel in document.get("channels", {}).items():
        channel_messages = []
        for key, reference in channel.get("messages", {}).items():
            message = _resolve(document, reference["$ref"]) if "$ref" in reference else reference
            schema_refs = []
            for ref in dict.fromkeys(_refs(message.get("payload", {}))):
                local = (schema_dir / ref).resolve() if not ref.startswith("#") else None
                schema_refs.append({"ref": ref, "file": local.name if local and local.is_file() else None})
            channel_messages.append({"key": key, **message, "schema_refs": schema_refs})
        channels.append({"id": channel_id, **channel, "message_list": channel_messages})
    operations = []
    for operation_id, operation in document.get("operations", {}).items():
        channel_ref = operation.get("channel", {}).get("$ref", "")
        group = operation.get("bindings", {}).get("kafka", {}).get("groupId", {}).get("enum", [None])[0]
        operations.append(
            {
                "id": operation_id,
                **operation,
                "channel_id": channel_ref.rsplit("/", 1)[-1],
                "group": group,
                "message_keys": [ref["$ref"].rsplit("/", 1)[-1] for ref in operation.get("messages", [])],
            }
        )
    return {
        "info": document.get("info", {}),
        "asyncapi": document.get("asyncapi"),
        "servers": document.get("servers", {}),
        "channels": channels,
        "operations": operations,
        "messages": messages,
        "schemas": document.get("components", {}).get("schemas", {}),
    }


def build(
    out: Path, *, asyncapi_document: Path = ASYNCAPI_DOCUMENT, problem_base: str = DEFAULT_PROBLEM_BASE
) -> list[Path]:
    """Write the site into `out` (replaced entirely); returns the HTML pages written."""
    if out.exists():
        shutil.rmtree(out)
    (out / "assets").mkdir(parents=True)
    shutil.copyfile(redoc_bundle(), out / "assets" / REDOC_FILE)
    templates = _templates()
    pages: list[Path] = []
    titles: list[dict[str, str]] = []
    for service in SERVICES:
        spec = service.create_app().openapi()
        directory = out / service.slug
        directory.mkdir()
        (directory / "openapi.json").write_text(json.dumps(spec, indent=2) + "\n")
        page = directory / "index.html"
        title = f"{spec['info']['title']} {spec['info'].get('version', '')}".strip()
        page.write_text(
            templates.get_template("redoc.html.j2").render(title=title, spec=spec, redoc=f"../assets/{REDOC_FILE}")
        )
        pages.append(page)
        titles.append({"href": f"{service.slug}/index.html", "title": title, "kind": "OpenAPI (REST)"})

    document = yaml.safe_load(asyncapi_document.read_text())
    directory = out / "asyncapi"
    (directory / "schemas").mkdir(parents=True)
    view = asyncapi_view(document, schema_dir=asyncapi_document.parent)
    for channel in view["channels"]:
        for message in channel["message_list"]:
            for ref in message["schema_refs"]:
                if ref["file"]:
                    source = (asyncapi_document.parent / ref["ref"]).resolve()
                    shutil.copyfile(source, directory / "schemas" / ref["file"])
    shutil.copyfile(asyncapi_document, directory / "asyncapi.yaml")
    page = directory / "index.html"
    page.write_text(templates.get_template("asyncapi.html.j2").render(**view))
    pages.append(page)
    titles.append(
        {
            "href": "asyncapi/index.html",
            "title": f"{view['info'].get('title', 'Events')} {view['info'].get('version', '')}".strip(),
            "kind": "AsyncAPI (Kafka events)",
        }
    )
    pages.extend(write_problem_pages(out / "problems", problem_base))
    titles.append({"href": "problems/index.html", "title": "Problem types", "kind": "RFC 9457 (errors)"})
    index = out / "index.html"
    index.write_text(templates.get_template("index.html.j2").render(documents=titles))
    return [index, *pages]


def write_problem_pages(directory: Path, base: str) -> list[Path]:
    """One page per problem type of the three services (their apps are built first, so every DomainError subclass
    is imported) and an index: what a deployment publishes at its `problem_type_base`."""
    directory.mkdir(parents=True)
    types = catalogue()
    written: list[Path] = []
    for code, problem_type in types.items():
        page = directory / f"{code}.html"
        page.write_text(problem_page(problem_type, f"{base}{code}", index="index.html"))
        written.append(page)
    index = directory / "index.html"
    index.write_text(index_page(types, base, suffix=".html"))
    return [index, *written]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ep_ops.docs", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the site (default docs/site)")
    parser.add_argument(
        "--problem-base",
        default=DEFAULT_PROBLEM_BASE,
        help="the URL the site's problems/ directory is published at, as the services' PROBLEM_TYPE_BASE "
        "(default: relative problems/)",
    )
    args = parser.parse_args(argv)
    pages = build(args.out, problem_base=args.problem_base)
    print(f"wrote {len(pages)} pages; open {pages[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
