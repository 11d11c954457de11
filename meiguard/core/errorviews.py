"""Error pages that keep people in the app (issue 16): 403, 404, 500 and the CSRF failure, each in the base
layout with the navigation, the real reason in the reader's language and a way back.

- 403 shows the ``PermissionDenied`` message (views raise it with a translated reason, e.g. through
  ``permissions.require``); without one, a general sentence.
- 404 never says whether a foreign row exists (tenancy answers 404 for both).
- 500 shows no exception detail, only the request id to quote to support; if even the layout fails to render
  (the database is down), a bare page without the navigation is served.
- ``/api/v1/`` keeps its JSON envelope: ``ApiEdgeMiddleware`` rewrites these responses there.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)


def _back(request: HttpRequest) -> str:
    """Where "返回上一页" goes: the referring page of this site (not this one), else the dashboard."""
    referer = request.META.get("HTTP_REFERER", "")
    try:
        host = request.get_host()
    except DisallowedHost:
        return "/"
    same_site = referer and url_has_allowed_host_and_scheme(referer, {host}, request.is_secure())
    return referer if same_site and urlsplit(referer).path != request.path else "/"


def _render(request: HttpRequest, status: int, ctx: dict[str, Any]) -> HttpResponse:
    ctx = {"status": status, "request_id": getattr(request, "request_id", ""), "back": _back(request), **ctx}
    template = loader.get_template("core/error.html")
    try:
        body = template.render(ctx, request)
    except Exception:  # the page must come out even when the navigation cannot be built
        logger.exception("error page %s rendered without navigation", status)
        body = template.render({**ctx, "bare": True}, None)
    return HttpResponse(body, status=status)


def _message(exception: Exception | None) -> str:
    if exception is None or not exception.args:
        return ""
    text = str(exception.args[0])
    # Django's own placeholders are not reasons.
    return "" if text in ("", "Permission denied", "not found") else text


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _render(
        request,
        403,
        {
            "title": _("没有权限"),
            "reason": _message(exception) or _("您的角色不能打开此页面或执行此操作。"),
            "hint": _("如需此权限,请联系本机构的机构管理员。"),
        },
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _render(
        request,
        404,
        {
            "title": _("页面不存在"),
            "reason": _("您要找的页面或记录不存在,或者您无权查看。"),
            "hint": _("请检查地址,或从导航和搜索重新进入。"),
        },
    )


def server_error(request: HttpRequest) -> HttpResponse:
    return _render(
        request,
        500,
        {
            "title": _("系统出错"),
            "reason": _("处理请求时出现意外错误,我们已记录。"),
            "hint": _("请稍后重试;如果问题持续,请把下面的请求编号告诉技术支持。"),
        },
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return _render(
        request,
        403,
        {
            "title": _("页面已过期"),
            "reason": _("表单的安全校验未通过:页面可能打开太久,或者您已在别处退出登录。"),
            "hint": _("请返回上一页,刷新后再提交一次。"),
        },
    )
