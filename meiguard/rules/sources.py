"""The sources register (规则依据登记册): the documents rules cite, and readable citations of them.

The register is ``packs/sources.yaml``. A rule cites entries as ``"<id> <article>"``; the pack loader copies
the entry into the rule as a ``Citation``, so a published version carries the citations it was published
with and a decision replayed years later shows the same text. Internal ids are link targets only: every
reader sees title, article, document number, issuer and kind.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from django.utils import translation

from .choices import RuleLevel, SourceKind

REGISTER_FILE = Path(__file__).resolve().parent / "packs" / "sources.yaml"
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")

NATIONAL_KINDS = frozenset(
    {
        SourceKind.LAW,
        SourceKind.ADMINISTRATIVE_REGULATION,
        SourceKind.DEPARTMENTAL_RULE,
        SourceKind.NORMATIVE_DOCUMENT,
        SourceKind.STANDARD,
    }
)
# What the first (primary) citation of a rule may be, by the rule's level: a national rule rests on a
# national text, a provincial one on a provincial or national text, an institution rule on an institution's
# own policy (or an association's rule it adopted).
KINDS_FOR_LEVEL: Mapping[str, frozenset[str]] = {
    RuleLevel.NATIONAL: NATIONAL_KINDS,
    RuleLevel.PROVINCIAL: NATIONAL_KINDS | {SourceKind.PROVINCIAL},
    RuleLevel.INSTITUTION: frozenset({SourceKind.INSTITUTION_POLICY, SourceKind.ASSOCIATION}),
}


@dataclass(frozen=True, slots=True)
class SourceDoc:
    id: str
    kind: str
    title: str
    title_en: str = ""
    issuer: str = ""
    issuer_en: str = ""
    number: str = ""
    issued: str = ""
    url: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Citation:
    """One document (and article) a rule rests on, as a reader needs it."""

    doc: str  # register id: a link target, never shown alone
    kind: str
    title: str
    title_en: str = ""
    issuer: str = ""
    issuer_en: str = ""
    number: str = ""
    issued: str = ""
    article: str = ""
    url: str = ""

    def text(self, lang: str | None = None) -> str:
        """《title》article(number) — or the English form."""
        if _english(lang):
            title = self.title_en or self.title
            article = english_article(self.article)
            out = f"{title}{', ' + article if article else ''}"
            return f"{out} ({self.number})" if self.number else out
        out = f"《{self.title}》{self.article}"
        return f"{out}({self.number})" if self.number else out

    def kind_label(self, lang: str | None = None) -> str:
        if lang and lang != translation.get_language():
            with translation.override(lang):
                return str(SourceKind(self.kind).label)
        return str(SourceKind(self.kind).label)

    def as_dict(self, lang: str | None = None) -> dict[str, Any]:
        english = _english(lang)
        return {
            "document": self.doc,
            "kind": self.kind,
            "kind_label": self.kind_label(lang),
            "title": (self.title_en or self.title) if english else self.title,
            "issuer": (self.issuer_en or self.issuer) if english else self.issuer,
            "number": self.number,
            "issued": self.issued,
            "article": english_article(self.article) if english else self.article,
            "url": self.url,
            "text": self.text(lang),
        }


def _english(lang: str | None) -> bool:
    return (lang or translation.get_language() or "").startswith("en")


_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _cn_number(text: str) -> int | None:
    """一 … 九十九 → int (enough for article numbers); None if not a Chinese numeral."""
    if not text or any(ch not in _CN_DIGITS and ch != "十" for ch in text):
        return None
    if "十" not in text:
        return _CN_DIGITS[text] if len(text) == 1 else None
    tens, _sep, ones = text.partition("十")
    value = (_CN_DIGITS.get(tens, 0) if tens else 1) * 10
    return value + (_CN_DIGITS.get(ones, 0) if ones else 0)


_ARTICLE_RE = re.compile(r"第([零一二三四五六七八九十]+)条")


def english_article(article: str) -> str:
    """第十一条 → Art. 11 (other section marks are kept as written)."""

    def repl(match: re.Match[str]) -> str:
        number = _cn_number(match.group(1))
        return f"Art. {number}" if number is not None else match.group(0)

    return _ARTICLE_RE.sub(repl, article).replace("、", ", ").replace("第", "")


class RegisterError(Exception):
    pass


def parse_register(text: str) -> dict[str, SourceDoc]:
    """The register's entries by id; ``RegisterError`` names every bad entry."""
    doc = yaml.safe_load(text) or {}
    entries = doc.get("documents") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise RegisterError("documents: must be a list")
    out: dict[str, SourceDoc] = {}
    problems: list[str] = []
    allowed = {f for f in SourceDoc.__dataclass_fields__}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(f"documents[{index}]: must be a mapping")
            continue
        unknown = set(entry) - allowed
        if unknown:
            problems.append(f"documents[{index}]: unknown keys {sorted(unknown)}")
        ident, kind, title = entry.get("id"), entry.get("kind"), entry.get("title")
        if not isinstance(ident, str) or not _ID_RE.match(ident):
            problems.append(f"documents[{index}].id: invalid")
            continue
        if kind not in SourceKind.values:
            problems.append(f"documents[{index}].kind: unknown kind {kind!r}")
        if not isinstance(title, str) or not title.strip():
            problems.append(f"documents[{index}].title: required")
        if ident in out:
            problems.append(f"documents[{index}].id: duplicate {ident}")
        url = str(entry.get("url") or "")
        if url and not url.startswith(("http://", "https://")):
            problems.append(f"documents[{index}].url: must be http(s)")
        out[ident] = SourceDoc(**{k: str(v) for k, v in entry.items() if k in allowed})
    if problems:
        raise RegisterError("; ".join(problems))
    return out


@cache
def register() -> Mapping[str, SourceDoc]:
    """The shipped register (read once per process)."""
    return parse_register(REGISTER_FILE.read_text(encoding="utf-8"))


def split_cite(text: str) -> tuple[str, str]:
    """'measures 第十一条' → ('measures', '第十一条')."""
    ident, _sep, article = text.strip().partition(" ")
    return ident, article.strip()


def citation(doc: SourceDoc, article: str = "") -> Citation:
    return Citation(
        doc=doc.id,
        kind=doc.kind,
        title=doc.title,
        title_en=doc.title_en,
        issuer=doc.issuer,
        issuer_en=doc.issuer_en,
        number=doc.number,
        issued=doc.issued,
        article=article,
        url=doc.url,
    )


def cite(ident: str, article: str = "", *, docs: Mapping[str, SourceDoc] | None = None) -> Citation:
    """A citation of a register entry (``KeyError`` if the register has no such document)."""
    return citation((docs or register())[ident], article)


def cites(*texts: str) -> tuple[Citation, ...]:
    """Citations from ``"<id> <article>"`` strings (for rules written in code, e.g. review checks)."""
    return tuple(cite(*split_cite(t)) for t in texts)


def citation_from_json(data: Mapping[str, Any]) -> Citation:
    return Citation(**{k: str(v) for k, v in data.items() if k in Citation.__dataclass_fields__})


def citation_json(c: Citation) -> dict[str, str]:
    return {k: getattr(c, k) for k in Citation.__dataclass_fields__ if getattr(c, k)}


def source_text(citations: Iterable[Citation], lang: str | None = "zh-hans") -> str:
    """All citations as one readable line (the Chinese form is what ``RuleRef.source`` stores)."""
    sep = "; " if _english(lang) else ";"
    return sep.join(c.text(lang) for c in citations)


def kind_allowed(level: str, kind: str) -> bool:
    return kind in KINDS_FOR_LEVEL.get(level or RuleLevel.NATIONAL, NATIONAL_KINDS)
