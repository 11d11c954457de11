"""The API's cost limit: a decision costs its products, a batch the sum over its items (issue 11 §5)."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client

from meiguard.core.access import Actor
from meiguard.core.tokens import create_token


@pytest.fixture
def limits(settings):
    cache.clear()
    settings.RATE_LIMITS_ENABLED = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS}
    yield settings.RATE_LIMITS
    cache.clear()


def _token(world, username="li", **kw):
    with transaction.atomic():
        return create_token(Actor.system(), world.users[username], name="HIS", **kw)


def test_decisions_and_batches_are_charged_by_products(clinic, limits):
    from meiguard.authz.models import DecisionLog

    limits["api_cost"] = (5, 60)
    _, raw = _token(clinic.world)
    c = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    one = clinic.payload()  # one product: cost 1
    assert c.post("/api/v1/decisions", json.dumps(one), content_type="application/json").status_code == 200
    batch = {"requests": [one] * 5}  # cost 5: 1 + 5 > 5
    before = DecisionLog.objects.count()
    response = c.post("/api/v1/decisions/batch", json.dumps(batch), content_type="application/json")
    assert response.status_code == 429
    assert response.json()["code"] == "RATE_LIMITED"
    assert int(response["Retry-After"]) >= 1
    assert DecisionLog.objects.count() == before  # refused before any work
    batch = {"requests": [one] * 4}  # cost 4 fits
    assert (
        c.post("/api/v1/decisions/batch", json.dumps(batch), content_type="application/json").status_code
        == 200
    )
