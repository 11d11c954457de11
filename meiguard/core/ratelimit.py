"""Rate limits over the Django cache: a sliding window of two fixed buckets, weighted by cost.

``charge(name, key, cost)`` adds ``cost`` units to the counter of limit ``name`` for ``key`` (a client
address, a token id) and raises ``RateLimited`` with the seconds to wait when the limit is exceeded. A
refused charge is taken back, so a caller over its limit does not push its own recovery further away.

Why not a library (docs/decisions/0010-rate-limits-mfa-files.md): django-ratelimit counts one per request
and decorates Django views; the API needs a *cost* per call (a 1,000-item batch is not one call) inside
django-ninja handlers, and ninja's throttles run before the body is parsed and keep timestamp lists in the
cache without atomic updates. ``cache.incr`` is atomic on Redis, so counts are shared by all workers.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


class RateLimited(Exception):
    """Too many requests; ``retry_after`` is in whole seconds."""

    def __init__(self, name: str, retry_after: int):
        super().__init__(name)
        self.name = name
        self.retry_after = max(1, retry_after)

    @property
    def message(self) -> str:
        return _("请求过于频繁,请 %(n)s 秒后再试") % {"n": self.retry_after}


def _incr(key: str, cost: int, ttl: int) -> int:
    cache.add(key, 0, timeout=ttl)
    try:
        return cache.incr(key, cost)
    except ValueError:  # expired between add and incr
        cache.set(key, cost, timeout=ttl)
        return cost


def charge(name: str, key: str, cost: int = 1, *, now: float | None = None) -> None:
    """Count ``cost`` units against limit ``name`` for ``key``; raise ``RateLimited`` if over."""
    if not settings.RATE_LIMITS_ENABLED or cost <= 0:
        return
    limit, window = settings.RATE_LIMITS[name]
    if limit <= 0:
        return
    now = time.time() if now is None else now
    bucket = int(now // window)
    elapsed = now - bucket * window
    base = f"rl:{name}:{key}:"
    current = _incr(base + str(bucket), cost, 2 * window + 1)
    previous = cache.get(base + str(bucket - 1), 0)
    weighted = previous * (1 - elapsed / window) + current
    if weighted <= limit:
        return
    with contextlib.suppress(ValueError):  # expired meanwhile: nothing to take back
        cache.decr(base + str(bucket), cost)
    # Wait until enough of the previous bucket has slid out, or the current bucket ends.
    over = weighted - limit
    if previous and over <= previous * (1 - elapsed / window):
        wait = math.ceil(over / previous * window)
    else:
        wait = math.ceil(window - elapsed)
    raise RateLimited(name, wait)


def client_key(request: HttpRequest) -> str:
    from .middleware import client_ip

    return client_ip(request) or "unknown"


def html_response(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    """The friendly page for people (the API answers with the JSON envelope instead)."""
    response = render(
        request,
        "core/rate_limited.html",
        {"retry_after": exc.retry_after, "message": exc.message},
        status=429,
    )
    response["Retry-After"] = str(exc.retry_after)
    return response


def api_cost_of_products(counts: list[int]) -> int:
    """A decision costs its number of products (at least one); a batch the sum over its items."""
    return sum(max(1, n) for n in counts)


def install(api: Any) -> None:
    """429 + ``Retry-After`` + the API's error envelope (kept apart from apierrors.py)."""
    from .apierrors import error_body

    @api.exception_handler(RateLimited)
    def on_rate_limited(request: HttpRequest, exc: RateLimited) -> HttpResponse:
        response = api.create_response(request, error_body("RATE_LIMITED", exc.message), status=429)
        response["Retry-After"] = str(exc.retry_after)
        return response


class RateLimitMiddleware:
    """Pages that raise ``RateLimited`` get the friendly 429 page instead of an error."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RateLimited):
            return html_response(request, exception)
        return None
