"""URLs never carry a BSN (R15): a query value shaped like one is refused before the endpoint runs.

URLs end up where request bodies do not: access logs, proxies' logs, browser histories, Referer headers. A
look-up by BSN therefore goes in a POST body. Every API router of create_service_app takes `refuse_bsn_in_query`
as a dependency: a query value (or a parameter name) of 9 digits, alone or grouped by spaces, dots or hyphens, is
answered 400 naming the parameter, whether or not it passes the eleven-test, without repeating the value. A
parameter the route declares as an integer (a limit, an offset, a numeric cursor) is a count, not an identifier,
and is left to the route's own validation. The logs never write query values either (service_kit.logs).
"""

import re
from collections.abc import Iterator
from typing import Any, get_args

from fastapi import Request
from fastapi.dependencies.models import Dependant

from service_kit.errors import InvalidInput

BSN_SHAPED = re.compile(r"[0-9]{3}[ .-]?[0-9]{3}[ .-]?[0-9]{3}|[0-9]{9}")


def bsn_shaped(value: str) -> bool:
    """9 digits, alone or in groups of three separated by a space, dot or hyphen (111 222 333, 111.222.333)."""
    return BSN_SHAPED.fullmatch(value.strip()) is not None


def _query_fields(dependant: Dependant) -> Iterator[Any]:
    yield from dependant.query_params
    for dependency in dependant.dependencies:
        yield from _query_fields(dependency)


def _is_integer(annotation: Any) -> bool:
    if annotation is int:
        return True
    arguments = get_args(annotation)
    return bool(arguments) and all(argument is int or argument is type(None) for argument in arguments)


def _integer_parameters(dependant: Dependant) -> frozenset[str]:
    return frozenset(field.alias for field in _query_fields(dependant) if _is_integer(field.field_info.annotation))


async def refuse_bsn_in_query(request: Request) -> None:
    """400 naming the query parameter whose value (or name) is shaped like a BSN."""
    if not request.url.query:
        return
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    integers = _integer_parameters(dependant) if isinstance(dependant, Dependant) else frozenset()
    for name, value in request.query_params.multi_items():
        if bsn_shaped(name):
            raise InvalidInput(
                "a query parameter's name is shaped like a BSN (9 digits): a URL never carries a BSN (R15)",
                field="query",
            )
        if name not in integers and bsn_shaped(value):
            raise InvalidInput(
                f"the query parameter {name} is shaped like a BSN (9 digits): a URL never carries a BSN (R15); "
                "a look-up by BSN sends it in a POST body",
                field=name,
            )
