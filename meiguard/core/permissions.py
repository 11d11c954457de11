"""One permission helper for everything a user can see or press (STYLE.md §12).

Navigation, buttons, pages and the views that guard their forms ask the same question::

    permissions.can(actor, "workflow.apply")                 # may this actor file an application at all?
    permissions.can(actor, "registry.change", obj=practitioner)
    permissions.require(actor, "registry.institution.create") # PermissionDenied(reason) → the styled 403

and templates ask it through ``{% load perms %}{% can "workflow.apply" as ok %}`` /
``{% can "registry.change" object as ok %}``.

Core knows no app: each app declares its permissions in its own ``permissions.py`` (imported at start-up by
``CoreConfig.ready`` through ``autodiscover_modules``) with ``@permission("name", refusal=_("…"))``. A check
is a small function ``(actor, obj) -> bool`` that asks what the app's actions ask (the same role sets, the
same ``writable_by``), so a link shown is a link that will not be refused for who the actor is.

The refusal is the reason the styled 403 page shows when a form is opened by someone who may not submit it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .access import Actor

Check = Callable[[Actor, Any], bool]


@dataclass(frozen=True, slots=True)
class Permission:
    name: str
    check: Check
    refusal: str | Promise


_REGISTRY: dict[str, Permission] = {}

DEFAULT_REFUSAL = _("您没有执行此操作的权限")


def permission(name: str, *, refusal: str | Promise = DEFAULT_REFUSAL) -> Callable[[Check], Check]:
    """Register ``fn`` as the check for ``name`` (dotted, ``<app>.<what>``). A name is declared once."""

    def register(fn: Check) -> Check:
        if name in _REGISTRY and _REGISTRY[name].check is not fn:
            raise ValueError(f"permission {name!r} is declared twice")
        _REGISTRY[name] = Permission(name, fn, refusal)
        return fn

    return register


def _get(name: str) -> Permission:
    try:
        return _REGISTRY[name]
    except KeyError:
        # A typo in a template or view must fail loudly, not hide a link forever.
        raise KeyError(f"unknown permission {name!r}; declared: {sorted(_REGISTRY)}") from None


def names() -> list[str]:
    return sorted(_REGISTRY)


def can(actor: Actor | None, name: str, obj: Any = None) -> bool:
    """May ``actor`` do ``name`` (on ``obj``)? Anonymous actors may do nothing."""
    perm = _get(name)
    if actor is None or not actor.is_authenticated:
        return False
    return bool(perm.check(actor, obj))


def refusal(name: str) -> str:
    return str(_get(name).refusal)


def require(actor: Actor | None, name: str, obj: Any = None) -> None:
    """Raise ``PermissionDenied`` with the permission's reason (the styled 403 shows it) unless allowed."""
    if not can(actor, name, obj):
        raise PermissionDenied(refusal(name))


def can_for_request(request: HttpRequest | None, name: str, obj: Any = None) -> bool:
    """``can`` for the request's actor, memoised on the request (the nav asks the same questions each page)."""
    if request is None:
        return False
    actor = getattr(request, "actor", None)
    memo: dict[tuple[str, Any], bool] | None = getattr(request, "_permission_memo", None)
    if memo is None:
        memo = {}
        request._permission_memo = memo  # type: ignore[attr-defined]
    key = (name, (type(obj).__name__, getattr(obj, "pk", id(obj))) if obj is not None else None)
    if key not in memo:
        memo[key] = can(actor, name, obj)
    return memo[key]


# --- permissions core itself owns ---------------------------------------------------------------------


@permission("core.admin_site", refusal=_("只有平台管理员可以进入管理后台"))
def _admin_site(actor: Actor, obj: Any) -> bool:
    """``obj`` is the signed-in user: Django's admin lets in active staff accounts only."""
    return bool(getattr(obj, "is_staff", False) and getattr(obj, "is_active", False))


@permission("core.search")
def _search(actor: Actor, obj: Any) -> bool:
    return actor.is_authenticated
