"""The API's one pagination: ``?limit=`` (1–1000, default 100) and ``?offset=`` (0–1,000,000,000).

Both are bounded at the edge so a huge offset is a 422 naming ``offset``, never a database overflow.
"""

from __future__ import annotations

from ninja import Field
from ninja.pagination import LimitOffsetPagination

from .schemas import FilterIn

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000_000


class Pagination(LimitOffsetPagination):
    class Input(FilterIn):
        limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="每页条数 / page size (1–1000)")
        offset: int = Field(0, ge=0, le=MAX_OFFSET, description="跳过条数 / rows to skip")
