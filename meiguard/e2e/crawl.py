"""The page crawl of issue 16's acceptance: what a page may not show, and how links are found and deduplicated.

Links are discovered from the pages themselves (same origin, GET), so pages other features add are crawled
without listing them here. URLs are grouped by pattern (digits → ``{n}``, query ignored) and each pattern is
rendered a few times at most; every other distinct pattern a page links to is still requested once (status
only) so no link leads to a 403 or an error.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from django.apps import apps
from django.db import models

SKIP_PREFIXES = (
    "/static/",
    "/media/",
    "/i18n/",
    "/p/lang/",
    "/admin/",
    "/api/",
    "/logout",
    "/login",
    "/accounts/mfa",
)
# downloads and file-producing links: not pages
SKIP_PATTERNS = re.compile(
    r"(\.(xlsx|pdf|csv|png|zip)$|/export|/download|/report\.|/pdf/?$|/xlsx/?$|[?&]export=)"
)

REASON_CODE = re.compile(r"\b[A-Z]{3,}_[A-Z][A-Z_]+\b")
CJK_RUN = re.compile(r"[\u3400-\u9fff\u2e80-\u2fdf]+")  # ideographs (punctuation alone is not text)
# Words that mean an untranslated UI string when they show in Chinese mode (pragmatic: common UI words).
ENGLISH_UI_WORDS = re.compile(
    r"\b(Submit|Save|Cancel|Delete|Edit|Search|Status|Institution|Practitioner|Procedure|Authorization|"
    r"Allowed|Denied|Warning|Back|Next|Previous|Export|Filter|Dashboard|Notifications?|Log ?out|Sign in|"
    r"None|True|False|Forbidden|Not Found|Page not found|Server Error|Yes|No|Unknown|Approved|Rejected|"
    r"Pending|Active|Expired|Suspended|Revoked|Draft|Details?|Actions?|institution-level setting)\b"
)

# Visible text of the page without code chips, scripts, styles and hidden elements (data in code chips and
# <input> values are not text here; <option> texts are).
VISIBLE_TEXT_JS = """
() => {
  const root = document.querySelector('main') || document.body;
  const skip = 'code, script, style, template, svg, [hidden], [aria-hidden="true"], [lang^="zh"], .data-zh';
  const parts = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.nodeValue.trim();
    if (!text) continue;
    const el = node.parentElement;
    if (!el || el.closest(skip)) continue;
    // options of a select are what the reader picks from: checked even though not laid out
    if (!el.closest('option') && !el.checkVisibility({visibilityProperty: true})) continue;
    parts.push(text);
  }
  return parts.join('\\n');
}
"""
LINKS_JS = """
() => Array.from(document.querySelectorAll('a[href]:not([download])'))
  .map(a => a.getAttribute('href'))
  .filter(h => h && h.startsWith('/') && !h.startsWith('//'))
"""


def pattern(url: str) -> str:
    path = urlsplit(url).path
    return re.sub(r"\d+", "{n}", path)


def crawlable(url: str) -> bool:
    path = urlsplit(url).path
    return not path.startswith(SKIP_PREFIXES) and not SKIP_PATTERNS.search(url)


def procedure_codes() -> set[str]:
    from meiguard.rules.labels import CATALOG

    with CATALOG.open(encoding="utf-8", newline="") as fh:
        return {row["code"] for row in csv.DictReader(fh)}


def _strings(value: object) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


# Stored texts that are not data: a notification's stored title/body is only the fallback of its message.
NOT_DATA = {("notify", "notification")}


def data_text(*, cjk_only: bool = True) -> str:
    """Every text stored in the database (names of people, institutions, products, free-text notes, rule
    data), joined: Chinese shown in English mode must be part of some stored value, i.e. data."""
    parts: list[str] = []
    for model in apps.get_models():
        meta = model._meta
        if (meta.app_label, meta.model_name) in NOT_DATA or meta.app_label in {"sessions", "contenttypes"}:
            continue
        fields = [
            f.attname
            for f in meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
        ]
        if not fields:
            continue
        for row in model._default_manager.values_list(*fields):  # type: ignore[attr-defined]
            for value in row:
                parts.extend(s for s in _strings(value) if not cjk_only or CJK_RUN.search(s))
    return "\n".join(parts)


def sources_text() -> str:
    path = Path(__file__).resolve().parents[1] / "rules" / "packs" / "sources.yaml"
    return path.read_text(encoding="utf-8") if path.is_file() else ""


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    rendered: int = 0
    status_checked: int = 0

    def add(self, where: str, what: str) -> None:
        if len(self.problems) < 400:
            self.problems.append(f"{where}: {what}")


def text_problems(
    text: str, *, lang: str, data: str, codes_re: re.Pattern[str], allowed_latin: str
) -> list[str]:
    out = []
    for m in REASON_CODE.finditer(text):
        if m.group(0) not in allowed_latin:
            out.append(f"raw reason code {m.group(0)!r}")
    for m in codes_re.finditer(text):
        out.append(f"procedure code {m.group(0)!r}")
    if lang == "en":
        for run in set(CJK_RUN.findall(text)):
            if run.strip("　、。,:;()《》“”") and run not in data:
                out.append(f"Chinese text {run!r}")
    else:
        for m in ENGLISH_UI_WORDS.finditer(text):
            start, end = m.start(), m.end()
            line_start = text.rfind("\n", 0, start) + 1
            line_end = text.find("\n", end)
            line = text[line_start : line_end if line_end != -1 else len(text)].strip()
            if m.group(0) in allowed_latin:
                continue
            out.append(f"English word {m.group(0)!r} in {line[:80]!r}")
    return out
