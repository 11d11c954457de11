"""Human names for procedure codes, in the reader's language, for any page that only holds the code.

The names come from the procedure rules of every published version (newest version wins), cached per rules
generation, so a code that left the catalog still reads as its last name.
"""

from __future__ import annotations

from django.utils import translation

from .choices import RuleKind, VersionStatus
from .models import Rule
from .services import current_generation

_cache: dict[int, dict[str, tuple[str, str]]] = {}


def _names() -> dict[str, tuple[str, str]]:
    gen = current_generation()
    found = _cache.get(gen)
    if found is None:
        found = {}
        rows = (
            Rule.objects.filter(kind=RuleKind.PROCEDURE, version__status=VersionStatus.PUBLISHED)
            .order_by("version__effective_from", "version_id")
            .values_list("data", flat=True)
        )
        for data in rows:
            code = data.get("code")
            if code and data.get("name_zh"):
                found[code] = (data["name_zh"], data.get("name_en") or "")
        _cache.clear()
        _cache[gen] = found
    return found


def _english() -> bool:
    return (translation.get_language() or "").startswith("en")


def procedure_name(code: str | None) -> str:
    """The catalog name of ``code`` in the active language; the code itself when the catalog does not know it."""
    if not code:
        return ""
    names = _names().get(code)
    if names is None:
        return code
    zh, en = names
    return en if (en and _english()) else zh


def is_procedure_code(code: str) -> bool:
    return code in _names()
