"""Human names for procedure codes, in the reader's language, for any page that only holds the code.

Names come from the national procedure catalog shipped with the rules (``packs/cn-national/procedure_catalog.csv``,
read once per process, no query per row); a code the catalog does not know is looked up once in the procedure
rules of the published versions (a provincial or institution addition) and then remembered. A code nobody
knows stays the code.
"""

from __future__ import annotations

import csv
import threading
from functools import lru_cache
from pathlib import Path

from django.utils import translation

CATALOG = Path(__file__).parent / "packs" / "cn-national" / "procedure_catalog.csv"
_extra: dict[str, tuple[str, str]] = {}
_unknown: set[str] = (
    set()
)  # asked once per process: a page of unknown codes costs one query per code, not per row
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _catalog() -> dict[str, tuple[str, str]]:
    with CATALOG.open(encoding="utf-8", newline="") as fh:
        return {row["code"]: (row["name_zh"], row.get("name_en") or "") for row in csv.DictReader(fh)}


def _lookup(code: str) -> tuple[str, str] | None:
    found = _catalog().get(code) or _extra.get(code)
    if found is not None or code in _unknown:
        return found
    from .choices import RuleKind, VersionStatus
    from .models import Rule

    data = (
        Rule.objects.filter(kind=RuleKind.PROCEDURE, version__status=VersionStatus.PUBLISHED, data__code=code)
        .order_by("-version_id")
        .values_list("data", flat=True)
        .first()
    )
    if not data or not data.get("name_zh"):
        with _lock:
            _unknown.add(code)
        return None
    with _lock:
        _extra[code] = (data["name_zh"], data.get("name_en") or "")
    return _extra[code]


def procedure_name(code: str | None) -> str:
    """The catalog name of ``code`` in the active language; the code itself when no catalog knows it."""
    if not code:
        return ""
    names = _lookup(code)
    if names is None:
        return code
    zh, en = names
    return en if (en and (translation.get_language() or "").startswith("en")) else zh


def codes_named(text: str, limit: int = 50) -> list[str]:
    """Catalog codes whose Chinese or English name contains ``text`` (ignoring case), for searching records that
    hold only the code; at most ``limit``, in catalog order."""
    needle = (text or "").strip().lower()
    if not needle:
        return []
    names = {**_catalog(), **_extra}
    return [code for code, (zh, en) in names.items() if needle in zh.lower() or needle in en.lower()][:limit]
