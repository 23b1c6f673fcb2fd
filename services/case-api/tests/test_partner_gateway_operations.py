"""The partner gateway's service role has one clear list of operations (deps.PARTNER_GATEWAY_OPERATIONS): exactly
those endpoints take PartnerCaseContext, so that restricting the role later changes one dependency, not the list."""

from collections.abc import Iterator
from pathlib import Path

from conftest import case_api_settings
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts

from case_api.deps import PARTNER_GATEWAY_OPERATIONS, partner_case_context
from case_api.main import create_app


def _calls(dependant: Dependant) -> Iterator[object]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def test_exactly_the_listed_operations_take_the_partner_gateways_context(tmp_path: Path) -> None:
    app = create_app(case_api_settings(f"sqlite+aiosqlite:///{tmp_path / 'unused.sqlite3'}"))
    routes = [route for route in iter_route_contexts(app.routes) if hasattr(route, "dependant")]
    taking = {
        (method, str(route.path))
        for route in routes
        if partner_case_context in set(_calls(route.dependant))
        for method in route.methods or ()
    }
    every = {(method, str(route.path)) for route in routes for method in route.methods or ()}

    assert every >= PARTNER_GATEWAY_OPERATIONS, "an operation of the list that case-api does not serve"
    assert taking == PARTNER_GATEWAY_OPERATIONS
