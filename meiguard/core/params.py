"""Small helpers every page view shares: the actor, bounded query parameters, pagination."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

from .access import Actor

PAGE_SIZE = 25


def actor(request: HttpRequest) -> Actor:
    """The request's Actor (built lazily by ``RequestContextMiddleware``)."""
    return request.actor  # type: ignore[attr-defined]


def param(request: HttpRequest, name: str) -> str:
    """A GET parameter, stripped and cut to 64 characters (filters never need more)."""
    return request.GET.get(name, "").strip()[:64]


def int_param(request: HttpRequest, name: str) -> int | None:
    """A positive integer GET parameter, or None for anything else (too long for an id included)."""
    raw = param(request, name)
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 12 else None


def date_param(request: HttpRequest, name: str) -> dt.date | None:
    """An ISO date GET parameter, or None when missing or malformed."""
    raw = param(request, name)
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def paginate(request: HttpRequest, qs: QuerySet[Any], size: int = PAGE_SIZE) -> dict[str, Any]:
    """``page`` plus the querystring without ``page`` (for the pagination partial's links)."""
    page = Paginator(qs, size).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return {"page": page, "querystring": query.urlencode()}
