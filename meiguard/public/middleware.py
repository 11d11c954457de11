"""Serve the cached public pages before the rest of the middleware stack (as WhiteNoise serves static files).

A public page without a query string (the home page, the directory's first page, an institution's page),
asked for by someone without a session, is stored after its first rendering — with the headers every other
middleware added (CSP, frame options, caching, ETag) — under its path and language, for
``PUBLIC_CACHE_SECONDS``. The next such request is answered from the cache by this middleware, placed right
after WhiteNoise; a matching ``If-None-Match`` gets a 304. Signed-in people (a session cookie) always go
through the whole stack (their pages are ``no-store``). A price change drops the institution's entries
(``public.cache.drop_institution``).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils import translation

PREFIX = "/p/"
SKIP_HEADERS = {"set-cookie", "x-request-id", "content-length"}


def _key(path: str, lang: str) -> str:
    return f"pub:resp:{lang}:{path}"


def drop(paths: list[str]) -> None:
    cache.delete_many([_key(p, lang) for p in paths for lang, _name in settings.LANGUAGES])


class PublicPageCacheMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.method not in ("GET", "HEAD")
            or not request.path.startswith(PREFIX)
            or request.META.get("QUERY_STRING")
            or settings.SESSION_COOKIE_NAME in request.COOKIES
        ):
            return self.get_response(request)
        lang = translation.get_language_from_request(request)
        key = _key(request.path, lang)
        stored = cache.get(key)
        if isinstance(stored, tuple) and len(stored) == 2:
            headers, body = stored
            etag = dict(headers).get("ETag", "")
            if etag and etag in request.headers.get("If-None-Match", ""):
                response: HttpResponse = HttpResponseNotModified()
            else:
                response = HttpResponse(body)
            for name, value in headers:
                response[name] = value
            return response
        response = self.get_response(request)
        if getattr(response, "public_cacheable", False) and response.status_code == 200:
            headers = [(k, v) for k, v in response.items() if k.lower() not in SKIP_HEADERS]
            cache.set(key, (headers, response.content), timeout=settings.PUBLIC_CACHE_SECONDS)
        return response
