"""One error envelope for the whole API: ``{code, message, field, errors[]}``.

Messages are Chinese by default and English with ``Accept-Language: en`` (LocaleMiddleware).
Validation problems are 422 and name every bad field; foreign or unknown ids are 404; nothing
reaches the client as a 500 for bad input.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from .errors import ActionError, FieldErrors

_SKIP_LOC = {"body", "query", "path", "payload", "form", "header", "cookie", "data", "filters"}


def field_path(loc: Any) -> str:
    """One notation for every field path the API names: ``products[0].lot_id``, ``device_ids[1]``."""
    out = ""
    for part in loc or ():
        if isinstance(part, int):
            out += "[%d]" % part
        elif str(part) in _SKIP_LOC and not out:
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


_field_name = field_path


def pydantic_message(err: dict[str, Any]) -> str:
    """A precise, translated message for one pydantic error."""
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return _("此字段为必填项")
    if kind in ("string_too_long", "too_long"):
        return _("长度不能超过 %(n)s") % {"n": ctx.get("max_length", "")}
    if kind in ("string_too_short", "too_short"):
        return _("长度不能少于 %(n)s") % {"n": ctx.get("min_length", "")}
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return _("请输入整数")
    if kind in ("decimal_parsing", "decimal_type", "float_parsing", "float_type"):
        return _("请输入数字")
    if kind in ("decimal_max_digits", "decimal_max_places", "decimal_whole_digits"):
        return _("数字位数超出范围")
    if kind in ("date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact"):
        return _("日期格式应为 YYYY-MM-DD")
    if kind.startswith("datetime") or kind in ("timezone_aware", "timezone_naive"):
        return _("时间格式应为 ISO 8601,例如 2026-03-03T09:30:00+08:00")
    if kind in ("enum", "literal_error"):
        return _("取值无效,可选值:%(choices)s") % {"choices": ctx.get("expected", "")}
    if kind in ("greater_than_equal", "greater_than"):
        return _("不能小于 %(n)s") % {"n": ctx.get("ge", ctx.get("gt", ""))}
    if kind in ("less_than_equal", "less_than"):
        return _("不能大于 %(n)s") % {"n": ctx.get("le", ctx.get("lt", ""))}
    if kind in ("bool_parsing", "bool_type"):
        return _("请输入 true 或 false")
    if kind in ("string_type", "str_type"):
        return _("请输入文本")
    if kind in ("list_type",):
        return _("应为列表")
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return _("应为对象")
    if kind == "json_invalid":
        return _("请求体不是有效的 JSON")
    if kind == "extra_forbidden":
        return _("不允许的字段")
    if kind == "string_pattern_mismatch":
        return _("格式不正确")
    if kind in ("value_error", "assertion_error"):
        # Our own validators raise ValueError with an already translated message.
        exc = ctx.get("error")
        return str(exc) if exc is not None else _("输入无效")
    return _("输入无效")


def not_found_message(field: str | None) -> str:
    """Unknown and foreign objects get the same words, naming the request field when there is one."""
    if field:
        return _("%(field)s 指向的对象不存在或无权访问") % {"field": field}
    return _("对象不存在或无权访问")


def error_body(code: str, message: str, field: str | None = None, errors: list[dict[str, str]] | None = None):
    return {"code": code, "message": message, "field": field, "errors": errors or []}


def install(api: NinjaAPI) -> None:
    @api.exception_handler(NinjaValidationError)
    def on_validation(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        errors = [
            {
                "field": _field_name(e.get("loc")),
                "code": str(e.get("type", "invalid")),
                "message": pydantic_message(e),
            }
            for e in exc.errors
        ]
        first = errors[0] if errors else {"field": "body", "message": _("输入无效")}
        message = _("输入有误:%(field)s:%(message)s") % first
        return api.create_response(
            request, error_body("INVALID", message, first["field"], errors), status=422
        )

    @api.exception_handler(FieldErrors)
    def on_field_errors(request: HttpRequest, exc: FieldErrors) -> HttpResponse:
        errors = [
            {"field": f, "code": "invalid", "message": str(m)} for f, msgs in exc.errors.items() for m in msgs
        ]
        message = _("输入有误:%(field)s:%(message)s") % errors[0]
        return api.create_response(
            request, error_body("INVALID", message, errors[0]["field"], errors), status=422
        )

    @api.exception_handler(DjangoValidationError)
    def on_django_validation(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        if hasattr(exc, "error_dict"):
            errors = {
                ("body" if k == "__all__" else k): [m for e in v for m in e.messages]
                for k, v in exc.error_dict.items()
            }
            return on_field_errors(request, FieldErrors(errors))
        return api.create_response(request, error_body("INVALID", "; ".join(exc.messages)), status=422)

    @api.exception_handler(ActionError)
    def on_action_error(request: HttpRequest, exc: ActionError) -> HttpResponse:
        return api.create_response(
            request, error_body(exc.code, str(exc.message), exc.field, exc.details), status=exc.status
        )

    @api.exception_handler(Http404)
    def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        field = getattr(exc, "field", None)
        return api.create_response(
            request, error_body("NOT_FOUND", not_found_message(field), field), status=404
        )

    @api.exception_handler(PermissionDenied)
    def on_forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return api.create_response(
            request, error_body("FORBIDDEN", str(exc) or _("无权执行此操作")), status=403
        )

    @api.exception_handler(AuthenticationError)
    def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return api.create_response(
            request, error_body("UNAUTHENTICATED", _("请先登录或提供有效的接口令牌")), status=401
        )

    @api.exception_handler(RequestDataTooBig)
    def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        from .edge import too_large

        return too_large()

    @api.exception_handler(TooManyFieldsSent)
    def on_too_many_fields(request: HttpRequest, exc: TooManyFieldsSent) -> HttpResponse:
        return api.create_response(request, error_body("TOO_MANY_FIELDS", _("表单字段过多")), status=413)

    @api.exception_handler(HttpError)
    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if exc.status_code == 403 and "CSRF" in str(exc):
            message = _("CSRF 校验失败:请刷新页面后重试,或使用接口令牌(Authorization: Bearer)")
            return api.create_response(request, error_body("CSRF_FAILED", message), status=403)
        if exc.status_code == 400 and "parse" in str(exc):
            message = _("请求体不是有效的 JSON")
            return api.create_response(request, error_body("INVALID_JSON", message, "body"), status=400)
        return api.create_response(
            request, error_body("HTTP_%s" % exc.status_code, str(exc)), status=exc.status_code
        )


class NotFoundField(Http404):
    """A 404 that names the request field whose id was unknown or foreign."""

    def __init__(self, field: str):
        super().__init__(field)
        self.field = field
