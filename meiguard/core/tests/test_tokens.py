"""API tokens: expiry, scopes per route, rotation with a grace period, management page (issue 11 §6)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from meiguard.audit.models import AuditEntry
from meiguard.core.access import Actor
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.models import ApiToken
from meiguard.core.tokens import create_token, rotate_token, scope_for, token_for


def _token(world, username="li", **kw):
    with transaction.atomic():
        return create_token(Actor.system(), world.users[username], name="HIS", **kw)


def _get(raw, path="/api/v1/me"):
    return Client().get(path, HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_tokens_expire_after_the_default_lifetime(world, settings):
    token, raw = _token(world)
    assert token.expires_at is not None
    expected = timezone.now() + dt.timedelta(days=settings.API_TOKEN_DEFAULT_DAYS)
    assert abs((token.expires_at - expected).total_seconds()) < 60
    assert _get(raw).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = _get(raw)
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"


def test_lifetime_is_bounded(world, settings):
    with pytest.raises(FieldErrors):
        _token(world, days=settings.API_TOKEN_MAX_DAYS + 1)
    with pytest.raises(FieldErrors):
        _token(world, days=0)
    token, _ = _token(world, days=7)
    assert (token.expires_at - timezone.now()).days in (6, 7)


def test_unknown_scope_is_refused(world):
    with pytest.raises(FieldErrors):
        _token(world, scopes=["admin"])


@pytest.mark.parametrize(
    "method,path,scope",
    [
        ("GET", "/api/v1/me", "read"),
        ("POST", "/api/v1/decisions", "decide"),
        ("POST", "/api/v1/decisions/batch", "decide"),
        ("POST", "/api/v1/registry/institutions", "write"),
        ("PATCH", "/api/v1/registry/institutions/3", "write"),
        ("DELETE", "/api/v1/registry/qualifications/3", "write"),
    ],
)
def test_scope_of_each_route(method, path, scope):
    assert scope_for(method, path) == scope


def test_a_read_only_token_cannot_decide_or_write(world):
    _, raw = _token(world, scopes=["read"])
    assert _get(raw).status_code == 200
    response = Client().post(
        "/api/v1/decisions",
        json.dumps({}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "TOKEN_SCOPE"
    assert "decide" in response.json()["message"]


def test_a_decide_token_cannot_read(world):
    _, raw = _token(world, scopes=["decide"])
    response = _get(raw)
    assert response.status_code == 403
    assert response.json()["code"] == "TOKEN_SCOPE"


def test_last_used_is_written_at_most_once_a_minute(world):
    token, raw = _token(world)
    assert _get(raw).status_code == 200
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    assert _get(raw).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == first


def test_rotation_issues_a_new_secret_and_the_old_one_runs_out(world, settings):
    old, old_raw = _token(world, scopes=["read", "decide"])
    actor = world.actor("li")
    with transaction.atomic():
        new, new_raw = rotate_token(actor, old.pk)
    assert new_raw != old_raw
    assert new.scopes == ["read", "decide"]
    assert _get(new_raw).status_code == 200
    assert _get(old_raw).status_code == 200  # grace period
    old.refresh_from_db()
    assert old.replaced_by_id == new.pk
    grace = dt.timedelta(hours=settings.API_TOKEN_ROTATION_GRACE_HOURS)
    assert token_for(old_raw, at=timezone.now() + grace + dt.timedelta(minutes=1)) is None
    assert token_for(new_raw, at=timezone.now() + grace + dt.timedelta(minutes=1)) is not None
    assert AuditEntry.objects.filter(action="core.apitoken.rotated").count() == 1
    with pytest.raises(ActionError), transaction.atomic():
        rotate_token(actor, old.pk)  # already replaced


def test_only_the_owner_can_rotate_or_revoke(world):
    token, _ = _token(world, "li")
    with pytest.raises(ActionError) as exc, transaction.atomic():
        rotate_token(world.actor("sun"), token.pk)
    assert exc.value.status == 404


def test_security_page_creates_rotates_and_revokes_tokens(world):
    c = world.client("li")
    page = c.get("/account/security/")
    assert page.status_code == 200
    assert "接口令牌" in page.content.decode()
    created = c.post("/account/tokens/", {"name": "HIS", "scopes": ["read"], "days": "30"})
    assert created.status_code == 200
    token = ApiToken.objects.get(user=world.users["li"])
    assert token.scopes == ["read"]
    assert f"mg_{token.prefix}_" in created.content.decode()
    rotated = c.post(f"/account/tokens/{token.pk}/rotate/")
    assert rotated.status_code == 200
    new = ApiToken.objects.get(replaces=token)
    c.post(f"/account/tokens/{new.pk}/revoke/")
    new.refresh_from_db()
    assert new.revoked_at is not None
    # Another user's token is not theirs to touch.
    other, _ = _token(world, "sun")
    c.post(f"/account/tokens/{other.pk}/revoke/")
    other.refresh_from_db()
    assert other.revoked_at is None


def test_security_page_refuses_too_long_lifetime(world, settings):
    c = world.client("li")
    response = c.post("/account/tokens/", {"name": "HIS", "scopes": ["read"], "days": "99999"}, follow=True)
    assert not ApiToken.objects.exists()
    assert str(settings.API_TOKEN_MAX_DAYS) in response.content.decode()


def test_token_api_for_the_signed_in_user(world):
    c = world.client("li")
    created = c.post(
        "/api/v1/tokens", json.dumps({"name": "EMR", "scopes": ["read"]}), content_type="application/json"
    )
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("mg_")
    assert body["token"]["scopes"] == ["read"]
    assert body["token"]["expires_at"]
    tid = body["token"]["id"]
    assert [t["id"] for t in c.get("/api/v1/tokens").json()] == [tid]
    rotated = c.post(f"/api/v1/tokens/{tid}/rotate", content_type="application/json")
    assert rotated.status_code == 201
    assert c.post(f"/api/v1/tokens/{tid}/revoke").json()["revoked_at"]
    bad = c.post(
        "/api/v1/tokens", json.dumps({"name": "x", "scopes": ["root"]}), content_type="application/json"
    )
    assert bad.status_code == 422
    # A bearer token cannot manage tokens.
    raw = body["secret"]
    assert Client().get("/api/v1/tokens", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    # Someone else's token is a 404.
    assert world.client("sun").post(f"/api/v1/tokens/{tid}/revoke").status_code == 404
