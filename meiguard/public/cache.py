"""Rendered public pages in the server cache (``PUBLIC_CACHE_SECONDS``), keyed by page and language.

A hit costs no database query; a price change drops its institution's pages on commit (``drop_institution``);
other registry changes show up when the entry expires (at most ``PUBLIC_CACHE_SECONDS`` later).
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.utils import translation

LANGS = ("zh-hans", "en")


def key(kind: str, ident: object) -> str:
    return f"pub:{kind}:{ident}:{translation.get_language() or 'zh-hans'}"


def get(kind: str, ident: object) -> bytes | None:
    value = cache.get(key(kind, ident))
    return value if isinstance(value, bytes) else None


def put(kind: str, ident: object, body: bytes) -> None:
    cache.set(key(kind, ident), body, timeout=settings.PUBLIC_CACHE_SECONDS)


def drop_institution(institution_id: int) -> None:
    from django.urls import reverse

    from .middleware import drop

    cache.delete_many([f"pub:institution:{institution_id}:{lang}" for lang in LANGS])
    drop([reverse("public:institution", args=[institution_id])])


def generations(keys: list[str]) -> dict[str, int]:
    """The engine's cache generations (``authz.snapshot.gen_key``), one cache round trip."""
    return {k: int(v) for k, v in cache.get_many(keys).items()}


def get_case(fingerprint: str) -> bytes | None:
    value = cache.get(key("case", fingerprint))
    return value if isinstance(value, bytes) else None


def put_case(fingerprint: str, body: bytes) -> None:
    # Bounded as well: what the fingerprint cannot see (a receipt line, a trace code) shows within a minute.
    cache.set(key("case", fingerprint), body, timeout=min(60, settings.PUBLIC_CACHE_SECONDS))
