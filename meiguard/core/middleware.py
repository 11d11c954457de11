from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers
from django.utils.functional import SimpleLazyObject

from . import context
from .access import build_actor

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, for the audit log, lockout and rate limits.

    Behind ``TRUSTED_PROXY_COUNT`` reverse proxies (``USE_X_FORWARDED_FOR`` on), each proxy appends the
    address it saw to X-Forwarded-For; the entry the outermost trusted proxy appended is the client. Entries
    further left come from the client itself and could be forged, so they are never used.
    """
    if settings.USE_X_FORWARDED_FOR:
        entries = [e.strip() for e in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if e.strip()]
        if entries:
            return entries[-min(settings.TRUSTED_PROXY_COUNT, len(entries))]
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    """Sets the request id, client IP and a lazily built ``request.actor``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        request.actor = SimpleLazyObject(lambda: build_actor(request.user))  # type: ignore[attr-defined]
        token = context.set_current(context.RequestContext(request_id=request_id, ip=client_ip(request)))
        try:
            response = self.get_response(request)
        finally:
            context.reset(token)
        response["X-Request-ID"] = request_id
        return response


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every API response and every page shown to a signed-in user: they
    hold personal data, which must not stay in browser or proxy caches."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        personal = request.path.startswith("/api/") or (user is not None and user.is_authenticated)
        if personal and "no-store" not in response.get("Cache-Control", ""):
            add_never_cache_headers(response)
        return response
