"""One base error carrying its HTTP status; handlers render every error as RFC 9457 problem+json.

The problem `type` is `{base}{code}`: `base` is the setting PROBLEM_TYPE_BASE (an https URL where the docs are
published), else `{PUBLIC_URL}/problems/`, else the service's own `/problems/` as the request reached it; every
service serves a page per type there (`problems_router`). `title` is the type's (service_kit.problem_types),
`instance` a `urn:uuid:` of this occurrence (written to the log with the request's trace id), and a field at
fault is named as `field` (dotted, for people) and in `errors[]` with a JSON Pointer (`pointer`) into the body or
`in` + `field` for a parameter.
"""

import logging
import uuid
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any, ClassVar, Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from service_kit.problem_types import FRAMEWORK_TYPES, ProblemType, index_page, problem_page

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEMS_PATH = "/problems/"


class FieldProblem(BaseModel):
    """One thing to fix: where (`field`; `pointer` into the body or `in` for a parameter) and what."""

    field: str = Field(description="The field, dotted with list indexes: `household.members[0].birth_date`.")
    message: str = Field(description="What is wrong with it; never the value sent.")
    type: str | None = Field(default=None, description="The kind of check that failed, e.g. `missing`.")
    pointer: str | None = Field(
        default=None, description="RFC 6901 JSON Pointer into the request body, as a URI fragment: `#/household`."
    )
    in_: Literal["query", "path", "header", "cookie"] | None = Field(
        default=None, alias="in", description="Where the parameter was, when the field is not in the body."
    )


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of every service is answered."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        description="The problem type: an URI whose page says what to fix.",
        json_schema_extra={"format": "uri-reference"},
    )
    title: str = Field(description="The problem type's title; the same for every occurrence of the type.")
    status: int = Field(ge=400, le=599, description="The HTTP status code of this answer.")
    detail: str = Field(description="This occurrence, for people: what was refused and why.")
    instance: str | None = Field(
        default=None,
        description="This occurrence (`urn:uuid:...`), also in the service's log line.",
        json_schema_extra={"format": "uri-reference"},
    )
    field: str | None = Field(default=None, description="The field to fix first, when one is at fault.")
    errors: list[FieldProblem] | None = Field(default=None, description="Every field at fault.")


class DomainError(Exception):
    """A refusal a caller can act on; `code` becomes the problem type (with its `title` and `fix`, the text of
    its page), `field` names what to fix."""

    status: ClassVar[int] = HTTPStatus.BAD_REQUEST
    code: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "The request cannot be processed as sent"
    fix: ClassVar[str] = "Read `detail` and `field`: they say what to change before sending the request again."

    def __init__(self, detail: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra

    @classmethod
    def problem_type(cls) -> ProblemType:
        return ProblemType(cls.code, cls.title, cls.fix)


class InvalidInput(DomainError):
    """A body that breaks its schema, found by a service's own validator: 400 like FastAPI's request validation
    (API Design Rules /core/error-handling/invalid-input); 422 (`Unprocessable`) is for rules of the domain."""

    status = HTTPStatus.BAD_REQUEST
    code = "validation-error"
    title = "The request does not match the API's schema"
    fix = (
        "Read `errors`: each entry names a field (`field`, and `pointer` into the body or `in` for a parameter) "
        "and what is wrong with it. Fix every one and send the request again; the OpenAPI document gives each "
        "field's type, format and limits."
    )


class NotFound(DomainError):
    status = HTTPStatus.NOT_FOUND
    code = "not-found"
    title = "Nothing is found at this address"
    fix = (
        "Check the identifier in the path (or the field named). A case of another team answers this too: you "
        "see only your own team's cases. Paths are in the OpenAPI document at /v1/openapi.json."
    )


class Conflict(DomainError):
    status = HTTPStatus.CONFLICT
    code = "conflict"
    title = "The request conflicts with the current state"
    fix = (
        "The resource is not in a state that allows this now: read `detail` (and `allowed_actions` where the "
        "process answers), read the resource again, and send what its state allows."
    )


class Unprocessable(DomainError):
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    code = "unprocessable"
    title = "A rule of the domain refuses this request"
    fix = (
        "The request is well-formed but breaks a rule of the work instruction (domain.md's R1 to R18) or of the "
        "contract: `detail` names the rule and `field` what to change."
    )


class Forbidden(DomainError):
    status = HTTPStatus.FORBIDDEN
    code = "forbidden"
    title = "Your role or team may not do this"
    fix = (
        "The token is valid but its role (or team) does not allow this operation; docs/roles.md lists which "
        "roles may call which operation. Ask for a token of a role that may."
    )


def catalogue(extra: Iterable[ProblemType] = ()) -> dict[str, ProblemType]:
    """Every problem type this process can answer with, by code: the framework's and those of every DomainError
    subclass imported so far (a service's app imports all of its own)."""
    found = {problem_type.code: problem_type for problem_type in (*FRAMEWORK_TYPES, *extra)}
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        error = pending.pop()
        found.setdefault(error.code, error.problem_type())
        pending.extend(error.__subclasses__())
    return dict(sorted(found.items()))


def type_base(request: Request) -> str:
    """Where this service's problem types live (see the module docstring)."""
    configured: str | None = getattr(request.app.state, "problem_type_base", None)
    return configured or str(request.base_url).rstrip("/") + PROBLEMS_PATH


def problems_router() -> APIRouter:
    """`GET /problems/` and `GET /problems/{code}`: the pages the problem type URIs point to (public, HTML)."""
    router = APIRouter(prefix=PROBLEMS_PATH.rstrip("/"), include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(index_page(catalogue(), type_base(request)))

    @router.get("/{code}", response_class=HTMLResponse)
    async def page(code: str, request: Request) -> HTMLResponse:
        problem_type = catalogue().get(code)
        if problem_type is None:
            raise NotFound("no problem type has this code; the list is at /problems/", field="code")
        return HTMLResponse(problem_page(problem_type, type_base(request) + code))

    return router


def problem(
    request: Request, status: int, *, code: str, detail: str, title: str | None = None, **extra: Any
) -> JSONResponse:
    """The problem+json answer of type `code` to `request`; its `instance` is logged with the trace id."""
    known = catalogue().get(code)
    instance = f"urn:uuid:{uuid.uuid4()}"
    body: dict[str, Any] = {
        "type": type_base(request) + code,
        "title": title or (known.title if known else HTTPStatus(status).phrase),
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    log.info("answered %s %s with %s (%s)", request.method, request.url.path, code, instance)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "household", "members", 0, "birth_date") -> "household.members[0].birth_date"
    parts = list(loc[1:]) if loc and loc[0] in {"body", "query", "path", "header", "cookie"} else list(loc)
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or (str(loc[0]) if loc else "")


def json_pointer(parts: Iterable[Any]) -> str:
    """RFC 6901 JSON Pointer as a URI fragment (RFC 9457's own examples): ("a", 0, "b/c") -> "#/a/0/b~1c"."""
    tokens = (str(part).replace("~", "~0").replace("/", "~1") for part in parts)
    return "#" + "".join("/" + token for token in tokens)


def _field_problem(err: dict[str, Any]) -> dict[str, Any]:
    loc = tuple(err.get("loc", ()))
    if err.get("type") == "json_invalid":
        # The loc of a JSON syntax error is a character position, not a field: say what is wrong instead.
        position = loc[-1] if loc else "?"
        reason = err.get("ctx", {}).get("error", "syntax error")
        message = f"the request body is not valid JSON ({reason} at character {position})"
        return {"field": "", "message": message, "type": "json_invalid", "pointer": "#"}
    found: dict[str, Any] = {"field": _field_path(loc), "message": err.get("msg", ""), "type": err.get("type")}
    if loc and loc[0] == "body":
        found["pointer"] = json_pointer(loc[1:])
    elif loc and loc[0] in {"query", "path", "header", "cookie"}:
        found["in"] = loc[0]
    return found


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem(request, exc.status, code=exc.code, title=exc.title, detail=exc.detail, field=exc.field, **exc.extra)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_field_problem(err) for err in exc.errors()]
    first = errors[0] if errors else {"field": "", "message": "invalid request"}
    # 400, not 422: the API Design Rules' /core/error-handling/invalid-input (schema validation is invalid input).
    return problem(
        request,
        HTTPStatus.BAD_REQUEST,
        code=InvalidInput.code,
        detail=f"{first['field']}: {first['message']}" if first["field"] else str(first["message"]),
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    response = problem(
        request,
        exc.status_code,
        code=HTTPStatus(exc.status_code).phrase.lower().replace(" ", "-"),
        detail=str(exc.detail),
    )
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ClientDisconnect):  # the caller went away mid-body: nothing was read, nobody hears an answer
        log.info("the client left during %s %s before its body was read", request.method, request.url.path)
        return problem(request, HTTPStatus.BAD_REQUEST, code="client-disconnected", detail="The client disconnected.")
    # The trace id in the logs leads to the cause; the caller learns nothing internal.
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        request,
        HTTPStatus.INTERNAL_SERVER_ERROR,
        code="internal-error",
        detail="An unexpected error occurred; it has been logged.",
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
