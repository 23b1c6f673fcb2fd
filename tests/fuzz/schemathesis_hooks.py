"""Schemathesis hooks for tests/test_fuzz_apis.py (loaded through SCHEMATHESIS_HOOKS).

Every generated request carries the bearer token of one of the roles in FUZZ_TOKENS (a JSON list), chosen in turn,
so each operation is driven as every role, not only as one. With FUZZ_PARTNER_ID set, the `partner_id` of a
partner's own paths is that registered partner's, so the signing proxy's signature is checked instead of the
request stopping at "unknown partner". Each answer's status is appended to FUZZ_STATUS_FILE, one per line, so the
test sees what the roles were answered."""

import itertools
import json
import os
from typing import Any

import schemathesis

_TOKENS = itertools.cycle(json.loads(os.environ.get("FUZZ_TOKENS", "[]")) or [""])
_PARTNER_ID = os.environ.get("FUZZ_PARTNER_ID")
_STATUS_FILE = os.environ.get("FUZZ_STATUS_FILE")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    token = next(_TOKENS)
    if token:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    if _PARTNER_ID and case.path_parameters and "partner_id" in case.path_parameters:
        case.path_parameters["partner_id"] = _PARTNER_ID


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    if _STATUS_FILE:
        with open(_STATUS_FILE, "a") as statuses:
            statuses.write(f"{response.status_code}\n")
