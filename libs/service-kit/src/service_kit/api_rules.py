"""The NL API Design Rules (Logius, 2.x) every service follows, in one place: what the OpenAPI document says and
what every answer carries. `make test` lints the documents with the official Spectral ruleset
(tools/api-lint, 0 errors); tests/test_api_design_rules.py checks the run-time rules over HTTP.

Document (`document_api`):
- `servers` is the base path with the major version (`/core/uri-version`): `{public_url}/v1`, the paths relative
  to it; probes and metrics are operations of the platform, not of the API, and stay out of the document.
- every 2xx/3xx answer declares the `API-Version` header (`/core/version-header`);
- invalid input is 400 (`/core/error-handling/invalid-input`), errors are problem+json (RFC 9457); a secured
  operation documents 401 and 403;
- `info.contact` (`/core/doc-openapi-contact`); an optional date is `type: [string, null]` with its `format`.

Run time (`ApiRulesMiddleware`, `publish_openapi`): `API-Version` and the security headers of
`/core/transport/security-headers` on every answer; the document at `/v1/openapi.json` (and `/openapi.json`)
readable from any origin (`/core/publish-openapi`); a trailing slash is 404, never a redirect
(`/core/no-trailing-slash`, set in app.py).
"""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service_kit.errors import PROBLEM_JSON, Problem

API_PREFIX = "/v1"
OPENAPI_PATHS = (f"{API_PREFIX}/openapi.json", "/openapi.json")
VERSION_HEADER = "API-Version"
# Headers that only writes read (contract.md: every write accepts Idempotency-Key); a read does not advertise them.
WRITE_ONLY_HEADERS = frozenset({"Idempotency-Key"})
WRITE_METHODS = frozenset({"post", "put", "patch"})

SECURITY_HEADERS = (
    ("cache-control", "no-store"),
    ("content-security-policy", "frame-ancestors 'none'"),
    ("strict-transport-security", "max-age=31536000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
)

_INVALID_INPUT = "The request names a field (body, query, header or path) that is missing or wrong"
_UNAUTHENTICATED = "No valid bearer token (missing, expired, or not of the identity provider)"
_FORBIDDEN = "The token's role or team may not do this"


class ApiRulesMiddleware:
    """Adds `API-Version` and the security headers to every answer (a route's own value wins); the OpenAPI
    document also gets `Access-Control-Allow-Origin: *`, as clients such as Swagger UI read it cross-origin."""

    def __init__(self, app: ASGIApp, *, version: str) -> None:
        self.app = app
        self.version = version.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cross_origin = scope.get("path") in OPENAPI_PATHS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [(b"api-version", self.version)]
                extra += [(name.encode(), value.encode()) for name, value in SECURITY_HEADERS]
                if cross_origin:
                    extra.append((b"access-control-allow-origin", b"*"))
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def publish_openapi(app: FastAPI) -> None:
    """The document at `/openapi.json` too (where tools and older clients look), beside `/v1/openapi.json`."""

    async def openapi_json(_: Request) -> JSONResponse:
        return JSONResponse(app.openapi())

    app.add_route("/openapi.json", openapi_json, include_in_schema=False)


def _nullable_formats(node: Any) -> None:
    """`anyOf: [{type: string, format: date}, {type: null}]` as `type: [string, null], format: date`: the same
    schema, with the format where readers (and the ADR linter) look for it."""
    if isinstance(node, dict):
        options = node.get("anyOf")
        if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
            (other,) = [option for option in options if option != {"type": "null"}]
            if isinstance(other, dict) and "format" in other and isinstance(other.get("type"), str):
                del node["anyOf"]
                node.update({**other, "type": [other["type"], "null"]})
        for value in node.values():
            _nullable_formats(value)
    elif isinstance(node, list):
        for value in node:
            _nullable_formats(value)


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _operation(method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    parameters = operation.get("parameters", [])
    if method not in WRITE_METHODS and method != "delete":
        parameters = [p for p in parameters if not (p.get("in") == "header" and p.get("name") in WRITE_ONLY_HEADERS)]
        if parameters:
            operation["parameters"] = parameters
        else:
            operation.pop("parameters", None)
    generated_422 = responses.get("422", {}).get("description") == "Validation Error"
    if generated_422:  # FastAPI's own entry for request validation, which the handlers answer with 400
        del responses["422"]
    if generated_422 or method in WRITE_METHODS or parameters:
        responses.setdefault("400", _problem_response(_INVALID_INPUT))
    if operation.get("security"):
        responses.setdefault("401", _problem_response(_UNAUTHENTICATED))
        responses.setdefault("403", _problem_response(_FORBIDDEN))
    for status, response in responses.items():
        if status.startswith(("4", "5")):
            response["content"] = _problem_response("")["content"]
        elif status.startswith(("2", "3")):
            response.setdefault("headers", {})[VERSION_HEADER] = {"$ref": f"#/components/headers/{VERSION_HEADER}"}
    responses.setdefault("default", _problem_response("An error, as RFC 9457 problem details"))


def api_document(app: FastAPI, *, public_url: str, contact: dict[str, str]) -> dict[str, Any]:
    """The OpenAPI document of `app` as the API Design Rules want it (see the module docstring)."""
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schema["info"]["contact"] = contact  # set here: get_openapi's model would want the email-validator package
    schema["servers"] = [{"url": public_url.rstrip("/") + API_PREFIX, "description": "This API, version 1"}]
    schema["paths"] = {
        path.removeprefix(API_PREFIX): item
        for path, item in schema.get("paths", {}).items()
        if path.startswith(API_PREFIX + "/")
    }
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schemas["Problem"].pop("$defs", {}))
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    components["headers"] = {
        VERSION_HEADER: {
            "description": "The full version of this API (semantic versioning), on every answer.",
            "schema": {"type": "string", "example": app.version},
        }
    }
    for path_item in schema["paths"].values():
        for method, operation in path_item.items():
            if isinstance(operation, dict) and "responses" in operation:
                _operation(method, operation)
    _nullable_formats(schema)
    return schema


def document_api(app: FastAPI, *, public_url: str, contact: dict[str, str]) -> None:
    """`app.openapi()` returns `api_document`, built once."""

    def openapi() -> dict[str, Any]:
        if not app.openapi_schema:
            app.openapi_schema = api_document(app, public_url=public_url, contact=contact)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
