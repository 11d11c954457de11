"""Values as a workbook may hold them: text without the control characters openpyxl refuses.

Input is checked at the edge (``core/schemas.py``, forms, import cells), but rows stored before that (or by
an administrator) must never make an export fail with ``IllegalCharacterError``: every writer passes its
cells through ``xlsx_value`` / ``xlsx_row``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

# The most rows one Excel export holds (every list's export and the clinical look-backs). Larger results are
# cut at this many rows and the workbook says so. 5,000 rows of ~10 columns is ~0.5 MB and builds in about a
# second.
MAX_EXPORT_ROWS = 5000


def xlsx_value(value: Any) -> Any:
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def xlsx_row(values: Iterable[Any]) -> list[Any]:
    return [xlsx_value(v) for v in values]
