from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.security import HttpBearer, django_auth

from .access import build_actor
from .tokens import user_for_token

router = Router(tags=["core"])


class BearerToken(HttpBearer):
    """``Authorization: Bearer mg_…`` for systems such as an HIS or EMR."""

    def authenticate(self, request: HttpRequest, token: str):  # type: ignore[override]
        user = user_for_token(token)
        if user is None:
            return None
        request.user = user
        request.actor = build_actor(user)  # type: ignore[attr-defined]
        return user


API_AUTH = [BearerToken(), django_auth]


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
