"""Assert that a test client's response matches what /api/v1/openapi.json documents for it."""

from __future__ import annotations

import functools
import json
from typing import Any

from openapi_schema_validator import OAS31Validator


@functools.cache
def openapi() -> dict[str, Any]:
    from meiguard.api import api

    return json.loads(json.dumps(api.get_openapi_schema()))


def assert_documented(response: Any, method: str, path: str) -> None:
    """``path`` is the documented template, e.g. ``/api/v1/bulk/imports/{run_id}/apply``."""
    spec = openapi()
    op = spec["paths"][path][method.lower()]
    documented = op["responses"].get(str(response.status_code))
    assert documented is not None, f"{method} {path}: status {response.status_code} is not documented"
    schema = documented["content"]["application/json"]["schema"]
    OAS31Validator({**schema, "components": spec["components"]}).validate(response.json())
