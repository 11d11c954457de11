"""The idle lock (issue 16 §6): a session idle past its limit is *locked*, not ended, so the page and the
half-filled form stay on the screen behind a lock until the same person signs in again.

- ``SESSION_IDLE_SECONDS`` (env ``SESSION_IDLE_MINUTES``, 30): idle this long, the session locks.
  A device marked as a shared tablet (cookie ``mg_shared_device=1``, set on 账户安全) locks after
  ``SHARED_DEVICE_IDLE_SECONDS`` (env ``SHARED_DEVICE_IDLE_MINUTES``, 5) instead, whichever is shorter.
- A locked session answers only the unlock page, logout and the language switch; every other page sends the
  browser to the unlock page, the JSON calls (keep-alive, htmx, the API) get a 401 envelope, and the API sees
  the session as signed out (a bearer token still works).
- Unlocking asks what sign-in asks: the password (counted by django-axes and the login rate limit, like the
  login form) and, for a user with an authenticator, a code from it. It resumes the same session (same CSRF
  token, so the form under the lock can still be saved) and counts as activity.
- A locked session ends ``SESSION_LOCK_HOLD_SECONDS`` (env ``SESSION_LOCK_HOLD_MINUTES``, 120) after the last
  activity plus the idle limit (``SESSION_COOKIE_AGE``): then only a new sign-in helps.
- Locks, unlocks and failed unlocks are audited (``core.session.*``).

The page side (``static/meiguard/app.js``) tracks activity, sends a keep-alive while the person works, warns
a minute before the limit and locks the page at the limit; the server enforces the same limit on its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from meiguard.audit import log as audit

SEEN_KEY = "mg_seen"
LOCKED_KEY = "mg_locked"
SHARED_COOKIE = "mg_shared_device"

# Reachable while locked: unlocking, leaving, the language switch, the health check.
_OPEN_URL_NAMES = ("core:unlock", "core:lock", "core:logout", "core:login", "core:healthz")
_OPEN_PREFIXES = ("/i18n/", "/static/")


def is_shared_device(request: HttpRequest) -> bool:
    return request.COOKIES.get(SHARED_COOKIE) == "1"


def idle_seconds(request: HttpRequest) -> int:
    """The idle limit of this request's device: the shared-tablet limit if the device is marked, never longer."""
    limit = int(settings.SESSION_IDLE_SECONDS)
    if is_shared_device(request):
        limit = min(limit, int(settings.SHARED_DEVICE_IDLE_SECONDS))
    return max(1, limit)


def is_locked(request: HttpRequest) -> bool:
    return bool(request.session.get(LOCKED_KEY))


def wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept or bool(request.headers.get("HX-Request"))


def lock(request: HttpRequest, *, why: str) -> bool:
    """Lock the session (audited once); False if it was locked already."""
    if is_locked(request):
        return False
    request.session[LOCKED_KEY] = True
    with transaction.atomic():
        audit.record(
            request.actor,  # type: ignore[attr-defined]
            "core.session.locked",
            request.user,  # type: ignore[arg-type]
            changes={
                "why": why,
                "idle_seconds": idle_seconds(request),
                "shared_device": is_shared_device(request),
            },
        )
    return True


def unlocked(request: HttpRequest) -> None:
    """The person proved who they are: resume the session (audited when it was locked)."""
    was_locked = bool(request.session.pop(LOCKED_KEY, None))
    request.session[SEEN_KEY] = time.time()
    if not was_locked:
        return
    with transaction.atomic():
        audit.record(
            request.actor,  # type: ignore[attr-defined]
            "core.session.unlocked",
            request.user,  # type: ignore[arg-type]
            changes={"shared_device": is_shared_device(request)},
        )


def unlock_failed(request: HttpRequest, code: str) -> None:
    with transaction.atomic():
        audit.record(
            request.actor,  # type: ignore[attr-defined]
            "core.session.unlock_failed",
            request.user,  # type: ignore[arg-type]
            changes={"problem": code},
            reason=code,
        )


@receiver(user_logged_in, dispatch_uid="meiguard-idle-sign-in")
def _fresh_at_sign_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    request.session.pop(LOCKED_KEY, None)
    request.session[SEEN_KEY] = time.time()


def locked_response(request: HttpRequest) -> HttpResponse:
    if wants_json(request) or request.method != "GET":
        from .apierrors import error_body

        body = error_body("SESSION_LOCKED", _("页面已锁定,请输入密码解锁"))
        return JsonResponse(body, status=401, json_dumps_params={"ensure_ascii": False})
    return HttpResponseRedirect(reverse("core:unlock") + "?" + urlencode({"next": request.get_full_path()}))


class IdleLockMiddleware:
    """Locks a session idle past its limit and holds a locked session at the unlock page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not hasattr(request, "session"):
            return self.get_response(request)
        now = time.time()
        seen = request.session.get(SEEN_KEY)
        if not is_locked(request) and isinstance(seen, int | float) and now - seen > idle_seconds(request):
            lock(request, why="idle")
        if is_locked(request):
            if request.path.startswith(_OPEN_PREFIXES) or request.path in {
                reverse(n) for n in _OPEN_URL_NAMES
            }:
                return self.get_response(request)
            if request.path.startswith("/api/"):
                request.user = AnonymousUser()  # the API sees no session user; a bearer token still works
                return self.get_response(request)
            return locked_response(request)
        request.session[SEEN_KEY] = now
        return self.get_response(request)
