"""OpenAPI that tells the truth: the schema is valid, and a bounded schemathesis run against the live app
(WSGI, SQLite or PostgreSQL test database, a bearer token of the doctor ``li``) finds no server error, no
undocumented status code and no response that breaks its documented schema.

Bounded: ``SCHEMATHESIS_MAX_EXAMPLES`` examples per operation (default 6) and no shrinking, so the whole module
takes about a minute or two on the CI machine (docs/testing.md).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from meiguard.api import api
from meiguard.core.tokens import create_token

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "6"))


def _schema_dict() -> dict[str, Any]:
    return json.loads(json.dumps(api.get_openapi_schema()))


def test_the_schema_is_valid_openapi() -> None:
    validate(_schema_dict())


def test_component_names_are_unique_per_class() -> None:
    """Two schema classes with one name would be documented as one (ninja keeps the last)."""
    schema = _schema_dict()
    titles = [c.get("title") for c in schema["components"]["schemas"].values()]
    assert len(titles) == len(set(titles))
    dist = schema["paths"]["/api/v1/registry/distribution-authorizations"]["post"]
    ref = dist["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/DistributionAuthorizationIn")


def test_every_operation_documents_its_errors() -> None:
    for path, item in _schema_dict()["paths"].items():
        for method, op in item.items():
            codes = set(op["responses"])
            assert {"401", "403", "422"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if "requestBody" in op:
                assert {"400", "413", "415"} <= codes, (method, path)


schema = schemathesis.openapi.from_dict(_schema_dict())
schema.app = get_wsgi_application()

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]


@pytest.fixture
def token(world) -> str:
    with transaction.atomic():
        _, raw = create_token(world.actor("wang"), world.users["li"], name="schemathesis")
    return raw


@pytest.fixture
def same_connection():
    """Keep the test transaction's connection across WSGI requests (as Django's test client does)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, token, same_connection) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
