"""Rate limits and lockout (issue 11 §5): 429 + Retry-After, per-token cost, username+address lockout."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import reverse

from meiguard.core import ratelimit
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


def test_sliding_window_refuses_over_the_limit_and_recovers(limits):
    limits["login"] = (3, 60)
    for _ in range(3):
        ratelimit.charge("login", "1.2.3.4", now=1000.0)
    with pytest.raises(ratelimit.RateLimited) as exc:
        ratelimit.charge("login", "1.2.3.4", now=1001.0)
    assert 1 <= exc.value.retry_after <= 60
    # Another key is not affected.
    ratelimit.charge("login", "5.6.7.8", now=1001.0)
    # Two windows later the old hits have slid out.
    ratelimit.charge("login", "1.2.3.4", now=1130.0)


def test_a_refused_charge_is_not_counted(limits):
    limits["api_cost"] = (10, 60)
    ratelimit.charge("api_cost", "t", 8, now=60.0)
    with pytest.raises(ratelimit.RateLimited):
        ratelimit.charge("api_cost", "t", 5, now=61.0)
    ratelimit.charge("api_cost", "t", 2, now=61.0)  # 8 + 2 fits: the refused 5 was taken back


def test_login_rate_limit_answers_429_page_with_retry_after(world, limits):
    limits["login"] = (2, 300)
    c = Client()
    for _ in range(2):
        c.post(reverse("core:login"), {"username": "nobody", "password": "x"})
    response = c.post(reverse("core:login"), {"username": "wang", "password": "pw-wang-123456"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert "请求过于频繁" in response.content.decode()
    assert "_auth_user_id" not in c.session


def test_token_failures_are_limited_per_address(world, limits):
    limits["token_failure"] = (3, 300)
    c = Client()
    for _ in range(3):
        assert c.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer mg_bad_guess").status_code == 401
    response = c.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer mg_bad_guess")
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    body = response.json()
    assert body["code"] == "RATE_LIMITED"
    assert set(body) == {"code", "message", "field", "errors"}
    # From another address, guessing is still answered normally.
    other = Client(REMOTE_ADDR="10.9.9.9")
    assert other.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer mg_bad_guess").status_code == 401


def test_api_calls_are_limited_per_token(world, limits):
    limits["api_calls"] = (3, 60)
    _, raw = _token(world)
    _, other_raw = _token(world, "zhang")
    c = Client()
    for _ in range(3):
        assert c.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    response = c.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 429
    assert "Retry-After" in response
    assert "Too many requests" in response.json()["message"]
    # Another token has its own budget.
    assert c.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {other_raw}").status_code == 200


def test_session_api_calls_are_limited_per_user(world, limits):
    limits["api_calls"] = (2, 60)
    c = world.client("li")
    assert c.get("/api/v1/me").status_code == 200
    assert c.get("/api/v1/me").status_code == 200
    assert c.get("/api/v1/me").status_code == 429


def test_lockout_of_one_attacker_does_not_block_the_user_elsewhere(world, settings):
    settings.AXES_ENABLED = True
    attacker = Client(REMOTE_ADDR="203.0.113.66")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attacker.post(reverse("core:login"), {"username": "wang", "password": "wrong-password"})
    locked = attacker.post(reverse("core:login"), {"username": "wang", "password": "pw-wang-123456"})
    assert locked.status_code == 429
    # wang, from his own address, still signs in.
    wang = Client(REMOTE_ADDR="198.51.100.7")
    response = wang.post(reverse("core:login"), {"username": "wang", "password": "pw-wang-123456"})
    assert response.status_code == 302
    assert "_auth_user_id" in wang.session


def test_lockout_behind_the_proxy_uses_the_forwarded_client(world, settings):
    """Behind the documented reverse proxy every request comes from the proxy's address."""
    settings.AXES_ENABLED = True
    settings.USE_X_FORWARDED_FOR = True
    proxy = "127.0.0.1"
    attacker = Client(REMOTE_ADDR=proxy)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attacker.post(
            reverse("core:login"),
            {"username": "wang", "password": "wrong-password"},
            HTTP_X_FORWARDED_FOR="203.0.113.66",
        )
    # The attacker cannot escape by forging a left-hand X-Forwarded-For entry...
    forged = attacker.post(
        reverse("core:login"),
        {"username": "wang", "password": "pw-wang-123456"},
        HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.66",
    )
    assert forged.status_code == 429
    # ...and wang, through the same proxy from his own address, signs in.
    wang = Client(REMOTE_ADDR=proxy)
    response = wang.post(
        reverse("core:login"),
        {"username": "wang", "password": "pw-wang-123456"},
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert response.status_code == 302
