"""Serve the cached public pages before the rest of the middleware stack (as WhiteNoise serves static files).

A public page without a query string (the home page, the directory's first page, an institution's page, a
case behind a QR code — keyed by the case's current state), asked for by someone without a session, is stored after its first rendering — with the headers every other
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
CASE_PREFIX = "/p/c/"
SKIP_HEADERS = {"set-cookie", "x-request-id", "content-length"}


def _key(path: str, lang: str) -> str:
    return f"pub:resp:{lang}:{path}"


def drop(paths: list[str]) -> None:
    cache.delete_many([_key(p, lang) for p in paths for lang, _name in settings.LANGUAGES])


class PublicPageCacheMiddleware:
    @staticmethod
    def _case_key(request: HttpRequest, lang: str) -> str | None:
        """A case page (QR token): the token is checked and the visit counted on every request; the page is
        the one rendered for the case's current state (``queries.case_fingerprint``). None: let the view
        answer (a bad or expired token, an unknown case, a client over its limit)."""
        from meiguard.core.ratelimit import RateLimited, charge, client_key

        from . import queries, tokens

        try:
            case_id = tokens.read(request.path[len(CASE_PREFIX) :].rstrip("/"))
            charge("public_verify", client_key(request))
        except (tokens.TokenExpired, tokens.TokenInvalid, RateLimited):
            return None
        fingerprint = queries.case_fingerprint(case_id)
        if fingerprint is None:
            return None
        request.public_case_fingerprint = fingerprint  # type: ignore[attr-defined]
        return f"pub:resp:case:{lang}:{fingerprint}"

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
        if request.path.startswith(CASE_PREFIX):
            key = self._case_key(request, lang)
            if key is None:
                return self.get_response(request)
        else:
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
        if response.status_code == 200 and (
            getattr(response, "public_cacheable", False) or getattr(response, "public_case", False)
        ):
            headers = [(k, v) for k, v in response.items() if k.lower() not in SKIP_HEADERS]
            cache.set(key, (headers, response.content), timeout=settings.PUBLIC_CACHE_SECONDS)
        return response
