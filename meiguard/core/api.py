from __future__ import annotations

import datetime as dt
from typing import Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from ninja.security import HttpBearer, SessionAuth
from pydantic import ConfigDict

from . import ratelimit, tokens
from .access import build_actor
from .errors import ActionError
from .models import ApiToken
from .tokens import scope_for, token_for

router = Router(tags=["core"])


class BearerToken(HttpBearer):
    """``Authorization: Bearer mg_…`` for systems such as an HIS or EMR.

    Failed attempts are rate-limited per client address; each call is counted against the token's call
    limit, and the token must hold the scope the route needs.
    """

    def authenticate(self, request: HttpRequest, token: str):  # type: ignore[override]
        found = token_for(token)
        if found is None:
            ratelimit.charge("token_failure", ratelimit.client_key(request))
            return None
        needed = scope_for(request.method or "GET", request.path)
        if needed not in found.scopes:
            raise ActionError(
                "TOKEN_SCOPE",
                _("此令牌没有 %(scope)s 权限范围") % {"scope": needed},
                status=403,
            )
        request.rate_key = f"token-{found.pk}"  # type: ignore[attr-defined]
        ratelimit.charge("api_calls", request.rate_key)  # type: ignore[attr-defined]
        request.user = found.user
        request.actor = build_actor(found.user)  # type: ignore[attr-defined]
        return found.user


class CountedSessionAuth(SessionAuth):
    """The signed-in browser session (CSRF-checked), with the same per-user call limit as a token."""

    def authenticate(self, request: HttpRequest, key: str | None):  # type: ignore[override]
        user = super().authenticate(request, key)
        if user:
            request.rate_key = f"user-{user.pk}"  # type: ignore[attr-defined]
            ratelimit.charge("api_calls", request.rate_key)  # type: ignore[attr-defined]
        return user


def charge_cost(request: HttpRequest, cost: int) -> None:
    """Count an expensive call's cost (decisions: products) against the caller's cost limit."""
    key = getattr(request, "rate_key", None) or f"user-{request.user.pk}"
    ratelimit.charge("api_cost", key, cost)


API_AUTH = [BearerToken(), CountedSessionAuth()]


class MembershipOut(Schema):
    organization_id: int
    organization: str
    kind: str
    role: str


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    is_platform_admin: bool
    memberships: list[MembershipOut]
    overseen_organization_ids: list[int]


@router.get("/me", response=MeOut, summary="当前用户 / Who am I")
def me(request: HttpRequest) -> MeOut:
    actor = request.actor  # type: ignore[attr-defined]
    rows = request.user.memberships.filter(is_active=True).select_related("organization")  # type: ignore[union-attr]
    return MeOut(
        id=request.user.pk or 0,
        username=request.user.get_username(),
        display_name=getattr(request.user, "display_name", ""),
        is_platform_admin=actor.is_platform_admin,
        memberships=[
            MembershipOut(
                organization_id=m.organization_id,
                organization=m.organization.name,
                kind=m.organization.kind,
                role=m.role,
            )
            for m in rows
        ],
        overseen_organization_ids=sorted(actor.overseen_org_ids),
    )


# ---- the user's own API tokens (session only: a token cannot mint or rotate tokens) ----------------

SESSION_ONLY = [CountedSessionAuth()]


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    replaced_by_id: int | None


class TokenCreateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=64, description="用途,如 HIS")
    scopes: list[Literal["read", "decide", "write"]] = Field(
        ["read", "decide"], min_length=1, max_length=3, description="read / decide / write"
    )
    days: int | None = Field(None, ge=1, le=3650, description="有效期(天),默认 API_TOKEN_DEFAULT_DAYS")


class RotateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    days: int | None = Field(None, ge=1, le=3650)


class TokenSecretOut(Schema):
    token: TokenOut
    secret: str = Field(description="只返回这一次 / shown once")


@router.get("/tokens", response=list[TokenOut], auth=SESSION_ONLY, summary="我的接口令牌 / My tokens")
def list_tokens(request: HttpRequest) -> list[ApiToken]:
    return tokens.visible_tokens(request.actor)  # type: ignore[attr-defined]


@router.post("/tokens", response={201: TokenSecretOut}, auth=SESSION_ONLY, summary="新建令牌 / Create")
def create_token(request: HttpRequest, payload: TokenCreateIn) -> tuple[int, dict[str, object]]:
    token, raw = tokens.create_token(
        request.actor,  # type: ignore[attr-defined]
        request.user,  # type: ignore[arg-type]
        name=payload.name,
        scopes=payload.scopes,
        days=payload.days,
    )
    return 201, {"token": token, "secret": raw}


@router.post(
    "/tokens/{token_id}/rotate", response={201: TokenSecretOut}, auth=SESSION_ONLY, summary="轮换 / Rotate"
)
def rotate_token(
    request: HttpRequest, token_id: int, payload: RotateIn | None = None
) -> tuple[int, dict[str, object]]:
    token, raw = tokens.rotate_token(request.actor, token_id, days=payload.days if payload else None)  # type: ignore[attr-defined]
    return 201, {"token": token, "secret": raw}


@router.post("/tokens/{token_id}/revoke", response=TokenOut, auth=SESSION_ONLY, summary="吊销 / Revoke")
def revoke_token(request: HttpRequest, token_id: int) -> ApiToken:
    return tokens.revoke_token(request.actor, token_id)  # type: ignore[attr-defined]
