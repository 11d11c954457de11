from django.db import transaction
from django.test import Client

from meiguard.core.access import Actor
from meiguard.core.models import ApiToken
from meiguard.core.tokens import create_token


def test_api_refuses_anonymous_with_chinese_message(db):
    response = Client().get("/api/v1/me")
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "UNAUTHENTICATED"
    assert "请先登录" in body["message"]


def test_api_speaks_english_on_request(db):
    response = Client().get("/api/v1/me", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 401
    assert "Sign in" in response.json()["message"]


def test_session_auth_returns_memberships(world):
    response = world.client("qian").get("/api/v1/me")
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "qian"
    assert body["memberships"][0]["role"] == "auditor"
    assert body["overseen_organization_ids"] == [world.org_jia.pk]


def test_bearer_token_authenticates_and_only_its_hash_is_stored(world):
    with transaction.atomic():
        token, raw = create_token(Actor.system(), world.users["li"], name="HIS")
    assert raw not in ApiToken.objects.values_list("token_hash", flat=True)
    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert response.json()["username"] == "li"
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_revoked_or_wrong_token_is_refused(world):
    with transaction.atomic():
        token, raw = create_token(Actor.system(), world.users["li"], name="HIS")
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION="Bearer mg_nope_nope").status_code == 401
    ApiToken.objects.filter(pk=token.pk).update(revoked_at="2026-01-01T00:00:00Z")
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_response_carries_request_id(world):
    response = world.client("li").get("/api/v1/me", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    response = world.client("li").get("/api/v1/me", HTTP_X_REQUEST_ID="bad id with spaces")
    assert response["X-Request-ID"] != "bad id with spaces"


def test_openapi_docs_are_served(world):
    response = world.client("li").get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert "/api/v1/me" in response.json()["paths"]


def test_healthz(db):
    assert Client().get("/healthz").json() == {"status": "ok"}


def test_create_api_token_command_prints_a_working_token(world, capsys):
    from django.core.management import CommandError, call_command

    call_command("create_api_token", "li", "EMR")
    raw = capsys.readouterr().out.strip()
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").json()["username"] == "li"
    import pytest

    with pytest.raises(CommandError):
        call_command("create_api_token", "nobody", "EMR")
