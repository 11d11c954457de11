"""OpenAPI that tells the truth: every operation documents the error envelope for each 4xx it can answer.

Handlers declare their success shapes (and any special 4xx body such as the bulk import's failed run). The
codes every operation shares are added here, from what the edge does, so no handler has to list them:

- 401 on every operation that needs credentials; 403 (role), 409 (a guard on the current state, e.g.
  ``NO_ACTIVE_RULE_PACK`` on a read) and 429 (rate limits) on every operation;
- 422 on every operation (path ids, query filters and bodies are validated, see ``core/schemas.py``);
- 404 on every operation with a path parameter (unknown or foreign id);
- on operations with a body: 400 (malformed JSON), 413 (too large),
  415 (not ``application/json`` / ``multipart/form-data``).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI

ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}

DESCRIPTIONS = {
    400: _("请求体不是有效的 JSON"),
    401: _("请先登录或提供有效的接口令牌"),
    403: _("无权执行此操作"),
    404: _("对象不存在或无权访问"),
    409: _("当前状态不允许此操作"),
    413: _("请求体过大"),
    415: _("请求体须为 application/json(上传文件时为 multipart/form-data)"),
    422: _("输入有误"),
    429: _("请求过于频繁,请稍后再试"),
}


def error_codes(method: str, path: str, operation: dict[str, Any]) -> list[int]:
    codes = [403, 409, 422, 429]
    if operation.get("security"):
        codes.append(401)
    if "{" in path:
        codes.append(404)
    if "requestBody" in operation:
        codes += [400, 413, 415]
    return sorted(codes)


def add_error_responses(schema: dict[str, Any]) -> dict[str, Any]:
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for code in error_codes(method, path, operation):
                if code in responses or str(code) in responses:
                    continue
                responses.setdefault(
                    code,
                    {
                        "description": str(DESCRIPTIONS[code]),
                        "content": {"application/json": {"schema": ERROR_REF}},
                    },
                )
    return schema


class DocumentedAPI(NinjaAPI):
    """NinjaAPI whose OpenAPI lists the shared error responses (``add_error_responses``)."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        return add_error_responses(super().get_openapi_schema(*args, **kwargs))
