"""API bearer tokens: ``mg_<prefix>_<secret>``; only SHA-256 of the whole token is stored."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from meiguard.audit import log as audit

from .access import Actor
from .models import ApiToken, User


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@transaction.atomic
def create_token(actor: Actor, user: User, *, name: str) -> tuple[ApiToken, str]:
    prefix = secrets.token_hex(4)
    raw = f"mg_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(user=user, name=name, prefix=prefix, token_hash=_digest(raw))
    audit.record(
        actor, "core.apitoken.created", token, after={"name": name, "user": user.pk, "prefix": prefix}
    )
    return token, raw


def user_for_token(raw: str) -> User | None:
    if not raw.startswith("mg_"):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=_digest(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
