"""The problem types of RFC 9457 every service answers with: one `https` URI per type under a configurable base,
a title per type and a page per type that says what to fix (served at `/problems/{code}` by every service and
written by `make docs` into docs/site/problems/).

A refusal of a service is a `service_kit.errors.DomainError` subclass whose class attributes `code`, `title` and
`fix` make its type; the answers the framework gives itself (an unknown path, a method not allowed, a crash) are
in `FRAMEWORK_TYPES`. `errors.catalogue()` gathers them; libs/service-kit/tests/test_problem_details.py checks
that every subclass names its own title and fix.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class ProblemType:
    code: str
    title: str
    fix: str


FRAMEWORK_TYPES = (
    ProblemType(
        "unauthorized",
        "Authentication is required",
        "Send a valid credential: a bearer token of the municipality's identity provider (locally `make token`), "
        "or for the SMS provider's reports the Basic credentials of the notifier's configuration. The "
        "`WWW-Authenticate` header says which.",
    ),
    ProblemType(
        "not-found",
        "Nothing is found at this address",
        "Check the path: the API's paths are in its OpenAPI document at /v1/openapi.json, without a trailing slash.",
    ),
    ProblemType(
        "method-not-allowed",
        "This address does not take this method",
        "Use one of the methods in the `Allow` header; the OpenAPI document lists each path's operations.",
    ),
    ProblemType(
        "not-acceptable",
        "No answer in an accepted media type",
        "Accept `application/json` (answers) and `application/problem+json` (errors).",
    ),
    ProblemType(
        "unsupported-media-type",
        "The body is not in a media type this operation takes",
        "Send the `Content-Type` the operation's OpenAPI request body names (mostly `application/json`).",
    ),
    ProblemType(
        "client-disconnected",
        "The client went away before its request was read",
        "Nothing was done. Send the request again (with the same `Idempotency-Key` for a write).",
    ),
    ProblemType(
        "internal-error",
        "An unexpected error in the service",
        "Nothing you sent is at fault. The error is logged with the request's trace id; send the request again "
        "later, and give the `traceparent` of the request to the platform's operators if it keeps failing.",
    ),
)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}
code{{background:#f3f3f3;padding:0 .2rem}}</style></head>
<body><main>{body}</main></body></html>
"""


def problem_page(problem_type: ProblemType, uri: str, *, index: str = "./") -> str:
    body = (
        f"<h1>{escape(problem_type.title)}</h1>"
        f"<p>Problem type <code>{escape(uri)}</code> (RFC 9457), code <code>{escape(problem_type.code)}</code>.</p>"
        f"<h2>What to fix</h2><p>{escape(problem_type.fix)}</p>"
        "<p>Every problem answer also has <code>detail</code> (this occurrence), <code>instance</code> (its id, "
        "for the logs), and where a field is at fault <code>field</code> and <code>errors</code> (each with "
        "<code>pointer</code>, a JSON Pointer into the body, or <code>in</code> and <code>field</code> for a "
        f'query, path or header parameter). <a href="{escape(index)}">All problem types</a>.</p>'
    )
    return PAGE.format(title=escape(problem_type.title), body=body)


def index_page(types: Mapping[str, ProblemType], base: str, *, suffix: str = "") -> str:
    items = "".join(
        f'<li><a href="{escape(code + suffix)}"><code>{escape(code)}</code></a>: {escape(problem_type.title)}</li>'
        for code, problem_type in types.items()
    )
    return PAGE.format(title="Problem types", body=f"<h1>Problem types</h1><p>Under {escape(base)}</p><ul>{items}</ul>")
