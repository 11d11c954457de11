"""API bearer tokens: ``mg_<prefix>_<secret>``; only SHA-256 of the whole token is stored.

A token has an expiry (default ``API_TOKEN_DEFAULT_DAYS``, at most ``API_TOKEN_MAX_DAYS``), scopes
(read / decide / write) checked on every call, a throttled last-used time, and can be rotated: the new
secret works at once, the old one keeps working for ``API_TOKEN_ROTATION_GRACE_HOURS`` so the calling
system can switch over, then stops.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from meiguard.audit import log as audit

from .access import Actor
from .errors import ActionError, FieldErrors
from .models import ApiToken, TokenScope, User

ALL_SCOPES = tuple(TokenScope.values)
LAST_USED_EVERY = dt.timedelta(seconds=60)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _clean_scopes(scopes: Iterable[str] | None) -> list[str]:
    chosen = list(ALL_SCOPES if scopes is None else scopes)
    bad = [s for s in chosen if s not in ALL_SCOPES]
    if bad or not chosen:
        raise FieldErrors({"scopes": [_("取值无效,可选值:%(choices)s") % {"choices": ", ".join(ALL_SCOPES)}]})
    return [s for s in ALL_SCOPES if s in chosen]


def _expiry(days: int | None, now: dt.datetime) -> dt.datetime:
    days = settings.API_TOKEN_DEFAULT_DAYS if days is None else days
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise FieldErrors({"days": [_("有效期应为 1–%(n)s 天") % {"n": settings.API_TOKEN_MAX_DAYS}]})
    return now + dt.timedelta(days=days)


def _new_secret() -> tuple[str, str]:
    prefix = secrets.token_hex(4)
    return prefix, f"mg_{prefix}_{secrets.token_urlsafe(32)}"


@transaction.atomic
def create_token(
    actor: Actor,
    user: User,
    *,
    name: str,
    scopes: Iterable[str] | None = None,
    days: int | None = None,
) -> tuple[ApiToken, str]:
    name = name.strip()
    if not name or len(name) > 64:
        raise FieldErrors({"name": [_("令牌名称必须为 1–64 个字符")]})
    now = timezone.now()
    prefix, raw = _new_secret()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=prefix,
        token_hash=_digest(raw),
        scopes=_clean_scopes(scopes),
        expires_at=_expiry(days, now),
    )
    audit.record(
        actor,
        "core.apitoken.created",
        token,
        after={
            "name": name,
            "user": user.pk,
            "prefix": prefix,
            "scopes": token.scopes,
            "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        },
    )
    return token, raw


def _own_token_for_update(actor: Actor, pk: int) -> ApiToken:
    token = ApiToken.objects.select_for_update().filter(pk=pk, user_id=actor.user_id or 0).first()
    if token is None:
        raise ActionError("NOT_FOUND", _("对象不存在或无权访问"), status=404)
    return token


@transaction.atomic
def revoke_token(actor: Actor, pk: int) -> ApiToken:
    token = _own_token_for_update(actor, pk)
    now = timezone.now()
    if token.revoked_at is not None and token.revoked_at <= now:
        return token
    token.revoked_at = now
    token.save(update_fields=["revoked_at"])
    audit.record(actor, "core.apitoken.revoked", token, after={"prefix": token.prefix})
    return token


@transaction.atomic
def rotate_token(actor: Actor, pk: int, *, days: int | None = None) -> tuple[ApiToken, str]:
    """A new secret with the same name and scopes; the old one works for the grace period, then stops."""
    old = _own_token_for_update(actor, pk)
    now = timezone.now()
    if not old.is_usable(now) or old.replaced_by_id is not None:
        raise ActionError("TOKEN_NOT_ACTIVE", _("只能轮换有效且未被替换的令牌"), status=409)
    prefix, raw = _new_secret()
    new = ApiToken.objects.create(
        user=old.user,
        name=old.name,
        prefix=prefix,
        token_hash=_digest(raw),
        scopes=list(old.scopes),
        expires_at=_expiry(days, now),
    )
    grace_end = now + dt.timedelta(hours=settings.API_TOKEN_ROTATION_GRACE_HOURS)
    old.revoked_at = min(grace_end, old.expires_at) if old.expires_at else grace_end
    old.replaced_by = new
    old.save(update_fields=["revoked_at", "replaced_by"])
    audit.record(
        actor,
        "core.apitoken.rotated",
        old,
        after={"replaced_by": prefix, "old_works_until": old.revoked_at.isoformat()},
    )
    return new, raw


def token_for(raw: str, *, at: dt.datetime | None = None) -> ApiToken | None:
    """The usable token for ``raw`` (not expired, not revoked, its user active), or None."""
    if not raw.startswith("mg_") or len(raw) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user").filter(token_hash=_digest(raw), user__is_active=True).first()
    )
    now = at or timezone.now()
    if token is None or not token.is_usable(now):
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def user_for_token(raw: str) -> User | None:
    token = token_for(raw)
    return token.user if token else None


def scope_for(method: str, path: str) -> str:
    """GET/HEAD/OPTIONS → read; POST …/decisions or …/decisions/batch → decide; any other write → write."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return TokenScope.READ
    if method == "POST" and path.rstrip("/").endswith(("/decisions", "/decisions/batch")):
        return TokenScope.DECIDE
    return TokenScope.WRITE


def visible_tokens(actor: Actor) -> list[ApiToken]:
    return list(ApiToken.objects.filter(user_id=actor.user_id or 0).order_by("-created_at"))
