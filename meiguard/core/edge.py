"""The HTTP edge of ``/api/v1/``: what is refused before a handler runs, and errors Django answers itself.

- A body that is neither ``application/json`` nor ``multipart/form-data`` (file uploads) is 415.
- A body larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is 413 (``RequestDataTooBig`` raised later is 413 too,
  see ``apierrors``).
- A path id that is not ASCII digits or does not fit a 64-bit column is 422 naming the path parameter
  (on pages it is a 404: such an object cannot exist).
- Every 4xx that Django or ninja answer without the envelope (unknown ``/api/v1/*`` path, 405, a CSRF
  rejection, a 400 for a malformed request) is rewritten to ``{code, message, field, errors[]}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from .apierrors import error_body
from .schemas import MAX_ID

API_PREFIX = "/api/v1/"
BODY_TYPES = ("application/json", "multipart/form-data")
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def envelope(status: int, code: str, message: str, field: str | None = None, **headers: str) -> JsonResponse:
    response = JsonResponse(
        error_body(code, message, field), status=status, json_dumps_params={"ensure_ascii": False}
    )
    for name, value in headers.items():
        response[name] = value
    return response


def too_large() -> JsonResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return envelope(413, "TOO_LARGE", _("请求体过大,上限为 %(n)s 字节") % {"n": limit})


def _has_body(request: HttpRequest) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return length > 0 or "HTTP_TRANSFER_ENCODING" in request.META


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def path_id_error(value: Any) -> str | None:
    """Why a path parameter made of digits cannot be an id, or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(abs(value))
    if not isinstance(value, str) or not value.isdigit():
        return None
    if not value.isascii():
        return _("请输入整数(仅限半角数字 0-9)")
    if len(value) > 19 or int(value) > MAX_ID:
        return _("不能大于 %(n)s") % {"n": MAX_ID}
    return None


def _generic(status: int, response: HttpResponse) -> JsonResponse:
    if status == 404:
        return envelope(404, "NOT_FOUND", _("接口路径不存在"))
    if status == 405:
        allowed = response.get("Allow", "")
        message = _("不支持此请求方法,可用方法:%(methods)s") % {"methods": allowed}
        return envelope(405, "METHOD_NOT_ALLOWED", message, Allow=allowed)
    if status == 403:
        return envelope(403, "FORBIDDEN", _("无权执行此操作"))
    if status == 413:
        return too_large()
    if status == 429:
        return envelope(429, "TOO_MANY_REQUESTS", _("请求过于频繁,请稍后再试"))
    return envelope(status, "BAD_REQUEST", _("请求无效"))


class ApiEdgeMiddleware:
    """Placed right after LocaleMiddleware, so its messages follow ``Accept-Language``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api(request):
            return self.get_response(request)
        if request.method in _BODY_METHODS and _has_body(request):
            media = request.content_type or ""
            if media not in BODY_TYPES:
                return envelope(
                    415,
                    "UNSUPPORTED_MEDIA_TYPE",
                    _("请求体须为 application/json(上传文件时为 multipart/form-data)"),
                )
            if (
                media == "application/json"
                and _content_length(request) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            ):
                return too_large()
        response = self.get_response(request)
        status = response.status_code
        if 400 <= status < 500 and not _is_json(response):
            return _generic(status, response)
        return response

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: dict[str, Any]
    ) -> HttpResponse | None:
        for name, value in view_kwargs.items():
            problem = path_id_error(value)
            if problem is None:
                continue
            if not is_api(request):
                raise Http404(name)
            message = _("输入有误:%(field)s:%(message)s") % {"field": name, "message": problem}
            body = error_body(
                "INVALID", message, name, [{"field": name, "code": "invalid", "message": problem}]
            )
            return HttpResponse(
                json.dumps(body, ensure_ascii=False),
                status=422,
                content_type="application/json; charset=utf-8",
            )
        return None


def _is_json(response: HttpResponse) -> bool:
    return str(response.get("Content-Type", "")).startswith("application/json")
