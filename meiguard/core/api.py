from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema
from ninja.security import HttpBearer, SessionAuth

from . import ratelimit
from .access import build_actor
from .errors import ActionError
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
