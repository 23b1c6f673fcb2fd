"""One base error carrying its HTTP status; handlers render every error as RFC 9457 problem+json."""

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "urn:eviction-prevention:problem:"


class FieldProblem(BaseModel):
    field: str
    message: str
    type: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of every service is answered."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    field: str | None = None
    errors: list[FieldProblem] | None = None


class DomainError(Exception):
    """A refusal a caller can act on; `code` becomes the problem type, `field` names what to fix."""

    status: int = HTTPStatus.BAD_REQUEST
    code: str = "bad-request"

    def __init__(self, detail: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra


class InvalidInput(DomainError):
    """A body that breaks its schema, found by a service's own validator: 400 like FastAPI's request validation
    (API Design Rules /core/error-handling/invalid-input); 422 (`Unprocessable`) is for rules of the domain."""

    status = HTTPStatus.BAD_REQUEST
    code = "validation-error"


class NotFound(DomainError):
    status = HTTPStatus.NOT_FOUND
    code = "not-found"


class Conflict(DomainError):
    status = HTTPStatus.CONFLICT
    code = "conflict"


class Unprocessable(DomainError):
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    code = "unprocessable"


class Forbidden(DomainError):
    status = HTTPStatus.FORBIDDEN
    code = "forbidden"


def problem(status: int, *, code: str, detail: str, instance: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "household", "members", 0, "birth_date") -> "household.members[0].birth_date"
    parts = list(loc[1:]) if loc and loc[0] in {"body", "query", "path", "header"} else list(loc)
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or (str(loc[0]) if loc else "")


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem(
        exc.status, code=exc.code, detail=exc.detail, instance=request.url.path, field=exc.field, **exc.extra
    )


def _field_problem(err: dict[str, Any]) -> dict[str, Any]:
    if err.get("type") == "json_invalid":
        # The loc of a JSON syntax error is a character position, not a field: say what is wrong instead.
        position = err.get("loc", ("body", "?"))[-1]
        reason = err.get("ctx", {}).get("error", "syntax error")
        message = f"the request body is not valid JSON ({reason} at character {position})"
        return {"field": "", "message": message, "type": "json_invalid"}
    return {"field": _field_path(err.get("loc", ())), "message": err.get("msg", ""), "type": err.get("type")}


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_field_problem(err) for err in exc.errors()]
    first = errors[0] if errors else {"field": "", "message": "invalid request"}
    # 400, not 422: the API Design Rules' /core/error-handling/invalid-input (schema validation is invalid input).
    return problem(
        HTTPStatus.BAD_REQUEST,
        code="validation-error",
        detail=f"{first['field']}: {first['message']}" if first["field"] else str(first["message"]),
        instance=request.url.path,
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    response = problem(
        exc.status_code,
        code=HTTPStatus(exc.status_code).phrase.lower().replace(" ", "-"),
        detail=str(exc.detail),
        instance=request.url.path,
    )
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ClientDisconnect):  # the caller went away mid-body: nothing was read, nobody hears an answer
        log.info("the client left during %s %s before its body was read", request.method, request.url.path)
        return problem(
            HTTPStatus.BAD_REQUEST,
            code="client-disconnected",
            detail="The client disconnected.",
            instance=request.url.path,
        )
    # The trace id in the logs leads to the cause; the caller learns nothing internal.
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        code="internal-error",
        detail="An unexpected error occurred; it has been logged.",
        instance=request.url.path,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
