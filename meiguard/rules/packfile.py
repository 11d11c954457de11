"""Read and validate a rule-pack directory: ``pack.yaml`` (meta + rules) and an optional procedure CSV.

``parse_pack(path)`` returns a ``ParsedPack`` or raises ``PackInvalid`` listing *every* problem as
``<file>:<line> <field>: <message>``. Nothing here writes to the database; ``actions.load_pack``
stores a parsed pack. The format is described in docs/rule-packs.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from django.utils.translation import gettext as _

from .choices import (
    PRACTICE_SCOPES,
    PROVINCES,
    SUBJECT_BY_ZH,
    Anesthesia,
    HospitalLevel,
    InstitutionType,
    Invasiveness,
    Jurisdiction,
    PracticeCategory,
    Profession,
    RuleKind,
    RuleLevel,
    RuleOp,
    SourceKind,
    Subject,
    Title,
)
from .sources import citation, citation_json, kind_allowed, register, source_text, split_cite

PACK_FILE = "pack.yaml"
NATIONAL_PACK = "cn-national"
PROCEDURE_PREFIX = "procedure."
ANY_INSTITUTION = "*"

_RULE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,95}$")
_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_PROC_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_METRIC_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_OFFSET_RE = re.compile(r"^([1-9][0-9]{0,3})([hdwm])$")


# --------------------------------------------------------------------------------------------
# Problems


@dataclass(frozen=True, slots=True)
class Issue:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} {self.field}: {self.message}"


class PackInvalid(Exception):
    """The pack has problems; ``issues`` lists all of them in file/line order."""

    def __init__(self, issues: Iterable[Issue]):
        self.issues = sorted(issues, key=lambda i: (i.file != PACK_FILE, i.file, i.line))
        super().__init__("\n".join(str(i) for i in self.issues))


class Bad(Exception):
    """Raised by a field validator with a (translated) message."""


# --------------------------------------------------------------------------------------------
# YAML with line numbers


class LineMap(dict):
    """A mapping that remembers its own line and the line of each key (1-based)."""

    line: int = 1

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Any, int] = {}
        self.duplicates: list[tuple[Any, int]] = []

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineMap:
    loader.flatten_mapping(node)
    out = LineMap()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            key = str(key)
        line = key_node.start_mark.line + 1
        if key in out:
            out.duplicates.append((key, line))
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = line
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)  # type: ignore[arg-type]


# Dates stay text here; the ``date`` validator parses them and reports a bad one with its line.
def _construct_timestamp_as_text(loader: _LineLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp_as_text)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Field validators: value -> normalised value, or raise Bad


Validator = Callable[[Any], Any]


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Bad(_("必须是非空文本"))
    return value.strip()


def optional_text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Bad(_("必须是文本"))
    return value.strip()


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Bad(_("必须是 true 或 false"))
    return value


def integer(lo: int, hi: int) -> Validator:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise Bad(_("必须是 %(lo)s-%(hi)s 之间的整数") % {"lo": lo, "hi": hi})
        return value

    return check


def grade_or_empty(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4:
        raise Bad(_("必须为 1-4 或留空"))
    return value


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidOperation
    number = Decimal(str(value).strip())
    if not number.is_finite():
        raise InvalidOperation
    return number


def _plain_number(number: Decimal) -> int | str:
    return int(number) if number == number.to_integral_value() else str(number.normalize())


def positive_number(value: Any) -> int | str:
    try:
        number = _decimal(value)
    except (InvalidOperation, ValueError):
        raise Bad(_("必须是正数")) from None
    if number <= 0:
        raise Bad(_("必须是正数"))
    return _plain_number(number)


def non_negative_number(value: Any) -> int | str:
    try:
        number = _decimal(value)
    except (InvalidOperation, ValueError):
        raise Bad(_("必须是不小于 0 的数")) from None
    if number < 0:
        raise Bad(_("必须是不小于 0 的数"))
    return _plain_number(number)


def date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        raise Bad(_("日期格式应为 YYYY-MM-DD"))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise Bad(_("日期格式应为 YYYY-MM-DD"))


def choice(values: Iterable[str], *, extra: Iterable[str] = ()) -> Validator:
    allowed = [str(v) for v in values] + list(extra)

    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise Bad(
                _("未知取值 %(value)s,可选:%(choices)s") % {"value": value, "choices": ", ".join(allowed)}
            )
        return value

    return check


def list_of(item: Validator, *, non_empty: bool = True) -> Validator:
    def check(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise Bad(_("必须是列表"))
        if non_empty and not value:
            raise Bad(_("列表不能为空"))
        out = []
        for index, element in enumerate(value):
            try:
                normalised = item(element)
            except Bad as exc:
                raise Bad(_("第 %(n)s 项:%(message)s") % {"n": index + 1, "message": exc}) from None
            if normalised in out:
                raise Bad(_("第 %(n)s 项重复:%(value)s") % {"n": index + 1, "value": element})
            out.append(normalised)
        return out

    return check


def identifier(value: Any) -> str:
    if not isinstance(value, str) or not _METRIC_RE.match(value):
        raise Bad(_("必须是小写字母、数字和下划线组成的标识"))
    return value


def rule_id(value: Any) -> str:
    if not isinstance(value, str) or not _RULE_ID_RE.match(value):
        raise Bad(_("规则编号只能包含字母、数字和 . _ : -,且不超过 96 个字符"))
    return value


def offset(value: Any) -> str:
    if not isinstance(value, str) or not _OFFSET_RE.match(value.strip()):
        raise Bad(_("随访时间应写作 数字+单位(h/d/w/m),例如 3d、1m"))
    return value.strip()


def procedure_code(value: Any) -> str:
    if not isinstance(value, str) or not _PROC_CODE_RE.match(value):
        raise Bad(_("项目编码只能包含小写字母、数字和连字符"))
    return value


def requirement_value(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, list):
        return list_of(positive_number)(value)
    return positive_number(value)


def subject(value: Any) -> str:
    if isinstance(value, str) and value in SUBJECT_BY_ZH:
        return str(SUBJECT_BY_ZH[value])
    return choice(Subject.values)(value)


# --------------------------------------------------------------------------------------------
# Sections of pack.yaml


@dataclass(frozen=True, slots=True)
class Spec:
    validator: Validator
    required: bool = True
    default: Any = None


def cite_text(value: Any) -> str:
    """One entry of ``cites``: ``"<register id> <article or section>"``; the id is checked against the register."""
    out = text(value)
    if not re.match(r"^[a-z0-9][a-z0-9-]{1,63}( .+)?$", out):
        raise Bad(_("格式应为“登记册编号 条款”,例如 measures 第十一条"))
    return out


def cite_list(value: Any) -> list[str]:
    return list_of(cite_text)(value)


COMMON_FIELDS: dict[str, Spec] = {
    "title": Spec(text),
    "title_en": Spec(optional_text, required=False, default=""),
    "cites": Spec(cite_list),
    "level": Spec(choice(RuleLevel.values), required=False),
    "adjustable": Spec(boolean, required=False, default=False),
    "confirmed": Spec(boolean, required=False, default=True),
    "note": Spec(optional_text, required=False, default=""),
}

SECTIONS: dict[str, tuple[str, dict[str, Spec]]] = {
    "grade_gates": (
        RuleKind.GRADE_GATE,
        {
            "requires_any_subject": Spec(list_of(subject)),
            "max_grade_otherwise": Spec(integer(0, 4), False, 0),
        },
    ),
    "institution_grades": (
        RuleKind.INSTITUTION_GRADE,
        {
            "institution_type": Spec(choice(InstitutionType.values, extra=[ANY_INSTITUTION])),
            "hospital_levels": Spec(list_of(choice(HospitalLevel.values), non_empty=False), False, []),
            "requires_anesthesiology": Spec(boolean, False, False),
            "max_grade": Spec(integer(0, 4)),
        },
    ),
    "chief_physicians": (
        RuleKind.CHIEF_PHYSICIAN,
        {
            "subject": Spec(subject),
            "filing_required": Spec(boolean, False, True),
            "min_years": Spec(integer(0, 50)),
            "practice_categories": Spec(list_of(choice(PracticeCategory.values))),
            "min_title": Spec(choice(Title.values), False, str(Title.NONE)),
            "training_min_years": Spec(non_negative_number, False, 0),
            "clinical_alternative_years": Spec(non_negative_number, False, 1),
            "periodic_assessment_required": Spec(boolean, False, False),
            "registered_in_province": Spec(boolean, False, False),
        },
    ),
    "practice_scopes": (
        RuleKind.PRACTICE_SCOPE,
        {"subject": Spec(subject), "accepted_scopes": Spec(list_of(choice(PRACTICE_SCOPES)))},
    ),
    "supervision": (
        RuleKind.SUPERVISION,
        {
            "applies_to": Spec(choice([Profession.DOCTOR, Profession.NURSE])),
            "subjects": Spec(list_of(subject)),
            "supervisor": Spec(choice(["chief_physician", "doctor"])),
            "same_subject": Spec(boolean, False, True),
        },
    ),
    "nurse_qualifications": (
        RuleKind.NURSE_QUALIFICATION,
        {
            "registration_required": Spec(boolean, False, True),
            "min_nursing_years": Spec(non_negative_number),
            "aesthetic_training_required": Spec(boolean, False, True),
            "clinical_alternative_months": Spec(non_negative_number, False, 0),
            "supervision_required": Spec(boolean, False, True),
            "may_assist": Spec(list_of(choice(Invasiveness.values))),
        },
    ),
    "nurse_scopes": (
        RuleKind.NURSE_SCOPE,
        {"may_perform": Spec(list_of(choice(Invasiveness.values), non_empty=False))},
    ),
    "anesthesia": (
        RuleKind.ANESTHESIA,
        {
            "grade": Spec(integer(1, 4)),
            "anesthesia_max": Spec(choice(Anesthesia.values)),
            "requires_anesthetist": Spec(boolean),
            "requires_privilege": Spec(boolean, False, False),
        },
    ),
    "technologies": (
        RuleKind.TECHNOLOGY,
        {"procedures": Spec(list_of(procedure_code))},
    ),
    "limits": (
        RuleKind.LIMIT,
        {
            "metric": Spec(choice(["units_per_session", "minutes_per_site"])),
            "max_value": Spec(positive_number),
            "unit": Spec(choice(["U", "min", "ml"])),
            "product_kind": Spec(identifier, False, ""),
            "procedures": Spec(list_of(procedure_code, non_empty=False), False, []),
        },
    ),
    "follow_ups": (
        RuleKind.FOLLOW_UP,
        {
            "invasiveness": Spec(list_of(choice(Invasiveness.values))),
            "schedule": Spec(list_of(offset)),
        },
    ),
    "requirements": (
        RuleKind.REQUIREMENT,
        {
            "metric": Spec(identifier),
            "value": Spec(requirement_value),
            "unit": Spec(optional_text, False, ""),
            "applies_to": Spec(optional_text, False, ""),
        },
    ),
}

KIND_FIELDS: dict[str, dict[str, Spec]] = {kind: fields for kind, fields in SECTIONS.values()}

PROCEDURE_FIELDS: dict[str, Spec] = {
    "subject": Spec(subject),
    "category": Spec(text),
    "name_zh": Spec(text),
    "name_en": Spec(optional_text, False, ""),
    "grade": Spec(grade_or_empty, False, None),
    "invasiveness": Spec(choice(Invasiveness.values)),
    "anesthesia_max": Spec(lambda v: None if v in (None, "") else choice(Anesthesia.values)(v), False, None),
}
KIND_FIELDS[RuleKind.PROCEDURE] = PROCEDURE_FIELDS

META_FIELDS: dict[str, Spec] = {
    "code": Spec(lambda v: _match(v, _CODE_RE, _("代码只能包含小写字母、数字和连字符"))),
    "name": Spec(text),
    "name_en": Spec(optional_text, False, ""),
    "jurisdiction": Spec(choice(Jurisdiction.values)),
    "province": Spec(choice(PROVINCES), False, ""),
    "extends": Spec(lambda v: _match(v, _CODE_RE, _("代码只能包含小写字母、数字和连字符")), False, ""),
    "version": Spec(integer(1, 100000)),
    "effective_from": Spec(date, False, ""),
    "cites": Spec(cite_list, False, []),
    "effective_basis": Spec(cite_text, False, ""),
    "description": Spec(optional_text, False, ""),
}

PROCEDURES_FIELDS: dict[str, Spec] = {
    "file": Spec(text),
    "cites": Spec(cite_list),
}

TOP_LEVEL = {"pack", "procedures", "change", "remove", *SECTIONS}

CSV_COLUMNS = [
    "code",
    "subject",
    "category",
    "name_zh",
    "name_en",
    "level",
    "invasive",
    "anesthesia_max",
    "source",
]
CSV_ALIASES = {"grade": "level", "invasiveness": "invasive"}


_GRADE_ZH = {"1": "一级项目", "2": "二级项目", "3": "三级项目", "4": "四级项目"}
_CATALOG_SECTION_RE = re.compile(r"^MOH2009-220 §1 L([1-4])\s*(.*)$")
_CATALOG_SUBJECT_RE = re.compile(r"^MOH2009-220 §[2-4] (\S+)")


def catalog_article(section: str) -> str:
    """The catalog CSV's section note as a reader's article: 'MOH2009-220 §1 L1 (1)头面部' → '一级项目 (1)头面部'."""
    section = section.strip()
    graded = _CATALOG_SECTION_RE.match(section)
    if graded:
        return f"{_GRADE_ZH[graded.group(1)]} {graded.group(2)}".strip()
    subject = _CATALOG_SUBJECT_RE.match(section)
    if subject:
        return f"{subject.group(1)}项目(不分级)"
    if section.startswith("not in 2009 catalog"):
        return "未列入该目录(目录外新项目)"
    if section.startswith("not found in catalog"):
        return "未列入该目录"
    return section


def catalog_cites(base_cites: list[str], section: str) -> list[str]:
    """A catalog row's citations: the catalog with the row's section, plus the text that covers an unlisted item."""
    if not base_cites:
        return []
    first, *rest = base_cites
    ident = first.split(" ", 1)[0]
    out = [f"{ident} {catalog_article(section)}".strip(), *rest]
    if "NMPA 2022 No.103" in section:
        out.append("ha-class-2022")
    return out


def _match(value: Any, pattern: re.Pattern[str], message: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise Bad(message)
    return value


# --------------------------------------------------------------------------------------------
# Parsed result


@dataclass(slots=True)
class ParsedRule:
    rule_id: str
    kind: str
    op: str
    cites: list[str]
    data: dict[str, Any]
    source: str = ""  # the readable citation line, filled from the register
    citations: list[dict[str, str]] = field(default_factory=list)
    title: str = ""
    title_en: str = ""
    level: str = ""
    adjustable: bool | None = None
    confirmed: bool | None = None
    note: str = ""
    file: str = PACK_FILE
    line: int = 0
    where: str = ""
    lines: dict[str, int] = field(default_factory=dict)

    def at(self, key: str) -> tuple[int, str]:
        """(line, field path) of one of this rule's keys, for an issue."""
        return self.lines.get(key, self.line), f"{self.where}.{key}" if self.where else key

    def as_json(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "kind": self.kind,
            "op": self.op,
            "source": self.source,
            "citations": self.citations,
            "data": self.data,
            "title": self.title,
            "title_en": self.title_en,
            "level": self.level,
            "adjustable": self.adjustable,
            "confirmed": self.confirmed,
            "note": self.note,
        }


@dataclass(slots=True)
class ParsedPack:
    path: Path
    meta: dict[str, Any]
    rules: list[ParsedRule] = field(default_factory=list)

    @property
    def code(self) -> str:
        return str(self.meta["code"])

    @property
    def version(self) -> int:
        return int(self.meta["version"])

    @property
    def is_overlay(self) -> bool:
        return self.meta["jurisdiction"] == Jurisdiction.PROVINCIAL

    def checksum(self) -> str:
        meta = {k: v for k, v in self.meta.items() if k != "effective_from"}
        payload = {"meta": meta, "rules": [r.as_json() for r in self.rules]}
        return hashlib.sha256(
            json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
        ).hexdigest()

    def procedure_codes(self) -> set[str]:
        return {r.data["code"] for r in self.rules if r.kind == RuleKind.PROCEDURE and r.op == RuleOp.ADD}


@dataclass(frozen=True, slots=True)
class BaseRule:
    kind: str
    data: Mapping[str, Any]


# --------------------------------------------------------------------------------------------
# Parser


class _Parser:
    def __init__(self, path: Path, base_lookup: Callable[[str, Path], dict[str, BaseRule] | None] | None):
        self.path = path
        self.issues: list[Issue] = []
        self.has_procedures = False
        self.base_lookup = base_lookup or _default_base_lookup
        self.register = register()

    def issue(self, line: int, fld: str, message: str, file: str = PACK_FILE) -> None:
        self.issues.append(Issue(file, line, fld, message))

    # ---- entry point

    def parse(self) -> ParsedPack:
        pack_dir = self.path if self.path.is_dir() else self.path.parent
        pack_file = self.path / PACK_FILE if self.path.is_dir() else self.path
        if not pack_file.is_file():
            self.issue(0, "path", _("找不到 %(file)s") % {"file": str(pack_file)})
            raise PackInvalid(self.issues)
        try:
            doc = yaml.load(pack_file.read_text(encoding="utf-8"), Loader=_LineLoader)
        except UnicodeDecodeError:
            self.issue(0, "encoding", _("文件必须是 UTF-8 编码"))
            raise PackInvalid(self.issues) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 0
            self.issue(
                line, "yaml", _("YAML 语法错误:%(problem)s") % {"problem": getattr(exc, "problem", exc)}
            )
            raise PackInvalid(self.issues) from None
        if not isinstance(doc, LineMap):
            self.issue(1, "pack.yaml", _("顶层必须是映射(key: value)"))
            raise PackInvalid(self.issues)

        self._duplicates(doc, "")
        for key in doc:
            if key not in TOP_LEVEL:
                self.issue(doc.line_of(key), str(key), _("未知的键"))

        meta = self._meta(doc)
        overlay = meta.get("jurisdiction") == Jurisdiction.PROVINCIAL
        institution_layer = meta.get("jurisdiction") == Jurisdiction.INSTITUTION
        default_level = (
            RuleLevel.PROVINCIAL
            if overlay
            else RuleLevel.INSTITUTION
            if institution_layer
            else RuleLevel.NATIONAL
        )
        pack = ParsedPack(path=pack_dir, meta=meta)

        self.has_procedures = "procedures" in doc
        if "procedures" in doc:
            pack.rules.extend(self._procedures(doc, pack_dir, default_level))
        for section, (kind, fields) in SECTIONS.items():
            if section in doc:
                pack.rules.extend(self._section(doc, section, kind, fields, default_level))

        base: dict[str, BaseRule] | None = None
        if overlay and meta.get("extends"):
            base = self.base_lookup(meta["extends"], pack_dir)
            if base is None:
                self.issue(
                    doc["pack"].line_of("extends"),
                    "pack.extends",
                    _("找不到基础规则包 %(code)s(目录或数据库中均没有)") % {"code": meta["extends"]},
                )
        for section in ("change", "remove"):
            if section not in doc:
                continue
            if not overlay:
                self.issue(
                    doc.line_of(section), section, _("只有省级覆盖包(jurisdiction: provincial)可以使用此节")
                )
                continue
            pack.rules.extend(self._overlay_ops(doc, section, base, default_level))

        catalog = base
        if institution_layer:
            # An institution layer sits on the national catalog: its limits may name the catalog's items.
            catalog = self.base_lookup(NATIONAL_PACK, pack_dir)
        self._cross_checks(pack, base, catalog)
        if self.issues:
            raise PackInvalid(self.issues)
        return pack

    # ---- pieces

    def _duplicates(self, mapping: LineMap, prefix: str) -> None:
        for key, line in mapping.duplicates:
            self.issue(line, f"{prefix}{key}", _("键重复"))

    def _fields(
        self, item: Any, where: str, line: int, specs: Mapping[str, Spec], *, allow: Iterable[str] = ()
    ) -> dict[str, Any] | None:
        """Validate one mapping against specs; report unknown, missing and invalid fields."""
        if not isinstance(item, LineMap):
            self.issue(line, where, _("必须是映射(key: value)"))
            return None
        self._duplicates(item, f"{where}.")
        out: dict[str, Any] = {}
        allowed = set(specs) | set(allow)
        for key in item:
            if key not in allowed:
                self.issue(item.line_of(key), f"{where}.{key}", _("未知的键"))
        for name, spec in specs.items():
            if name not in item:
                if spec.required:
                    self.issue(item.line, f"{where}.{name}", _("缺少必填字段"))
                else:
                    out[name] = spec.default
                continue
            try:
                out[name] = spec.validator(item[name])
            except Bad as exc:
                self.issue(item.line_of(name), f"{where}.{name}", str(exc))
        return out

    def _meta(self, doc: LineMap) -> dict[str, Any]:
        if "pack" not in doc:
            self.issue(1, "pack", _("缺少必填字段"))
            return {}
        meta = self._fields(doc["pack"], "pack", doc.line_of("pack"), META_FIELDS) or {}
        if not isinstance(doc["pack"], LineMap):
            return meta
        lines = doc["pack"]
        if meta.get("jurisdiction") == Jurisdiction.PROVINCIAL:
            for key in ("province", "extends"):
                if not meta.get(key) and key in META_FIELDS and key not in lines:
                    self.issue(lines.line, f"pack.{key}", _("省级覆盖包必须填写此字段"))
        elif meta.get("jurisdiction") in (Jurisdiction.NATIONAL, Jurisdiction.INSTITUTION):
            for key in ("province", "extends"):
                if meta.get(key):
                    self.issue(lines.line_of(key), f"pack.{key}", _("全国规则包和机构规范不能填写此字段"))
        return meta

    def _list(self, doc: LineMap, section: str) -> list[Any]:
        value = doc[section]
        if not isinstance(value, list):
            self.issue(doc.line_of(section), section, _("必须是列表"))
            return []
        return value

    def _common(self, values: dict[str, Any], default_level: str) -> dict[str, Any]:
        return {
            "title": values.get("title") or "",
            "title_en": values.get("title_en") or "",
            "cites": values.get("cites") or [],
            "level": values.get("level") or default_level,
            "adjustable": values.get("adjustable", False),
            "confirmed": values.get("confirmed", True),
            "note": values.get("note") or "",
        }

    def _section(
        self, doc: LineMap, section: str, kind: str, fields: dict[str, Spec], default_level: str
    ) -> list[ParsedRule]:
        rules = []
        for index, item in enumerate(self._list(doc, section)):
            where = f"{section}[{index}]"
            line = item.line if isinstance(item, LineMap) else doc.line_of(section)
            specs = {"id": Spec(rule_id), **COMMON_FIELDS, **fields}
            values = self._fields(item, where, line, specs)
            if values is None or "id" not in values:
                continue
            data = {name: values[name] for name in fields if name in values}
            rules.append(
                ParsedRule(
                    rule_id=values["id"],
                    kind=kind,
                    op=RuleOp.ADD,
                    data=data,
                    line=line,
                    where=where,
                    lines={str(k): v for k, v in item.lines.items()},
                    **self._common(values, default_level),
                )
            )
        return rules

    def _procedures(self, doc: LineMap, pack_dir: Path, default_level: str) -> list[ParsedRule]:
        conf = self._fields(doc["procedures"], "procedures", doc.line_of("procedures"), PROCEDURES_FIELDS)
        if not conf or not conf.get("file"):
            return []
        csv_name = conf["file"]
        csv_path = (pack_dir / csv_name).resolve()
        if pack_dir.resolve() not in csv_path.parents or not csv_path.is_file():
            self.issue(
                doc["procedures"].line_of("file"),
                "procedures.file",
                _("找不到项目目录文件 %(file)s(须在规则包目录内)") % {"file": csv_name},
            )
            return []
        base_cites = conf.get("cites") or []
        rules: list[ParsedRule] = []
        try:
            handle = csv_path.open(encoding="utf-8-sig", newline="")
        except OSError as exc:  # pragma: no cover - permissions
            self.issue(0, "file", str(exc), file=csv_name)
            return []
        with handle:
            reader = csv.reader(handle)
            try:
                header = next(reader)
            except StopIteration:
                self.issue(1, "header", _("文件为空"), file=csv_name)
                return []
            except csv.Error as exc:
                self.issue(1, "header", str(exc), file=csv_name)
                return []
            columns = [CSV_ALIASES.get(h.strip(), h.strip()) for h in header]
            shown = {CSV_ALIASES.get(h.strip(), h.strip()): h.strip() for h in header}
            bad_header = False
            for col in columns:
                if col not in CSV_COLUMNS:
                    self.issue(1, col or "(空)", _("未知的列"), file=csv_name)
                    bad_header = True
            for col in CSV_COLUMNS:
                if col not in columns and col != "name_en":
                    self.issue(1, col, _("缺少必需的列"), file=csv_name)
                    bad_header = True
            if len(set(columns)) != len(columns):
                self.issue(1, "header", _("列名重复"), file=csv_name)
                bad_header = True
            if bad_header:
                return []
            seen: dict[str, int] = {}
            last_line = reader.line_num
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    self.issue(reader.line_num, "csv", str(exc), file=csv_name)
                    break
                line, last_line = last_line + 1, reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(columns):
                    self.issue(
                        line,
                        "row",
                        _("列数应为 %(n)s,实际为 %(m)s") % {"n": len(columns), "m": len(row)},
                        file=csv_name,
                    )
                    continue
                rule = self._procedure_row(
                    dict(zip(columns, row, strict=True)),
                    shown,
                    line,
                    csv_name,
                    base_cites,
                    default_level,
                    seen,
                )
                if rule is not None:
                    rules.append(rule)
        return rules

    def _procedure_row(
        self,
        raw: dict[str, str],
        shown: dict[str, str],
        line: int,
        csv_name: str,
        base_cites: list[str],
        default_level: str,
        seen: dict[str, int],
    ) -> ParsedRule | None:
        ok = True

        def get(col: str, validator: Validator) -> Any:
            nonlocal ok
            try:
                return validator(raw.get(col, "").strip())
            except Bad as exc:
                self.issue(line, shown.get(col, col), str(exc), file=csv_name)
                ok = False
                return None

        code = get("code", procedure_code)
        if code is not None:
            if code in seen:
                self.issue(
                    line,
                    shown["code"],
                    _("项目编码重复(首次出现在第 %(line)s 行)") % {"line": seen[code]},
                    file=csv_name,
                )
                ok = False
            else:
                seen[code] = line
        subj = get("subject", subject)
        category = get("category", text)
        name_zh = get("name_zh", text)
        name_en = get("name_en", optional_text)
        grade = get("level", grade_or_empty)
        invasive = get("invasive", choice(Invasiveness.values))
        anesthesia = get("anesthesia_max", PROCEDURE_FIELDS["anesthesia_max"].validator)
        source = get("source", lambda v: text(v))
        if ok and grade is not None and subj != Subject.COSMETIC_SURGERY:
            self.issue(line, shown["level"], _("只有美容外科项目分级(PG-03),其他科目须留空"), file=csv_name)
            ok = False
        if not ok:
            return None
        section, _sep, status = source.partition("|")
        return ParsedRule(
            rule_id=f"{PROCEDURE_PREFIX}{code}",
            kind=RuleKind.PROCEDURE,
            op=RuleOp.ADD,
            cites=catalog_cites(base_cites, section),
            data={
                "code": code,
                "subject": subj,
                "category": category,
                "name_zh": name_zh,
                "name_en": name_en,
                "grade": grade,
                "invasiveness": invasive,
                "anesthesia_max": anesthesia,
                "catalog_status": status.strip() or section.strip(),
            },
            title=name_zh,
            title_en=name_en,
            level=default_level,
            adjustable=False,
            confirmed=not status.strip().startswith("inferred"),
            file=csv_name,
            line=line,
        )

    def _overlay_ops(
        self, doc: LineMap, section: str, base: dict[str, BaseRule] | None, default_level: str
    ) -> list[ParsedRule]:
        rules = []
        op = RuleOp.CHANGE if section == "change" else RuleOp.REMOVE
        for index, item in enumerate(self._list(doc, section)):
            where = f"{section}[{index}]"
            line = item.line if isinstance(item, LineMap) else doc.line_of(section)
            specs: dict[str, Spec] = {
                "id": Spec(rule_id),
                "cites": COMMON_FIELDS["cites"],
                "note": COMMON_FIELDS["note"],
            }
            if op == RuleOp.CHANGE:
                specs["set"] = Spec(lambda v: v)
            values = self._fields(item, where, line, specs)
            if values is None or "id" not in values:
                continue
            target = values["id"]
            if base is not None and target not in base:
                self.issue(
                    item.line_of("id"), f"{where}.id", _("基础规则包中没有规则 %(id)s") % {"id": target}
                )
                continue
            kind = base[target].kind if base is not None else ""
            data: dict[str, Any] = {}
            common: dict[str, Any] = {}
            if op == RuleOp.CHANGE and "set" in values:
                changes = values["set"]
                if not isinstance(changes, LineMap) or not changes:
                    self.issue(item.line_of("set"), f"{where}.set", _("必须是非空映射(要修改的字段: 新值)"))
                    continue
                self._duplicates(changes, f"{where}.set.")
                kind_fields = KIND_FIELDS.get(kind, {})
                common_specs = {k: v for k, v in COMMON_FIELDS.items() if k not in ("cites", "note")}
                for key, value in changes.items():
                    spec = kind_fields.get(key) or common_specs.get(key)
                    if spec is None:
                        if base is not None:
                            self.issue(
                                changes.line_of(key),
                                f"{where}.set.{key}",
                                _("规则类别 %(kind)s 没有此字段") % {"kind": kind},
                            )
                        continue
                    try:
                        normalised = spec.validator(value)
                    except Bad as exc:
                        self.issue(changes.line_of(key), f"{where}.set.{key}", str(exc))
                        continue
                    if key in kind_fields:
                        data[key] = normalised
                    else:
                        common[key] = normalised
            rules.append(
                ParsedRule(
                    rule_id=target,
                    kind=kind,
                    op=op,
                    data=data,
                    cites=values.get("cites") or [],
                    note=values.get("note") or "",
                    title=common.get("title", ""),
                    title_en=common.get("title_en", ""),
                    level=common.get("level", default_level),
                    adjustable=common.get("adjustable"),
                    confirmed=common.get("confirmed"),
                    line=line,
                    where=where,
                    lines={str(k): v for k, v in item.lines.items()},
                )
            )
        return rules

    def _citations(self, pack: ParsedPack) -> None:
        """Resolve every rule's ``cites`` against the register; the first must fit the rule's level."""
        docs = self.register
        for rule in pack.rules:
            resolved = []
            for text_ in rule.cites:
                ident, article = split_cite(text_)
                doc = docs.get(ident)
                if doc is None:
                    self.issue(
                        *rule.at("cites"),
                        _("登记册中没有依据文件 %(id)s(见 packs/sources.yaml)") % {"id": ident},
                        file=rule.file,
                    )
                    continue
                resolved.append(citation(doc, article))
            if rule.op != RuleOp.REMOVE and not rule.cites and rule.kind == RuleKind.PROCEDURE:
                # CSV rows get their citations from ``procedures.cites`` (YAML rules were checked field by field).
                self.issue(*rule.at("cites"), _("缺少必填字段"), file=rule.file)
            if resolved and not kind_allowed(rule.level, resolved[0].kind):
                self.issue(
                    *rule.at("cites"),
                    _("依据《%(title)s》属于“%(kind)s”,与规则层级“%(level)s”不符")
                    % {
                        "title": resolved[0].title,
                        "kind": SourceKind(resolved[0].kind).label,
                        "level": RuleLevel(rule.level).label
                        if rule.level in RuleLevel.values
                        else rule.level,
                    },
                    file=rule.file,
                )
            rule.citations = [citation_json(c) for c in resolved]
            rule.source = source_text(resolved)

    def _cross_checks(
        self, pack: ParsedPack, base: dict[str, BaseRule] | None, catalog: dict[str, BaseRule] | None = None
    ) -> None:
        self._citations(pack)
        for meta_key in ("cites", "effective_basis"):
            values = pack.meta.get(meta_key) or []
            for text_ in [values] if isinstance(values, str) else values:
                if split_cite(text_)[0] not in self.register:
                    self.issue(
                        1,
                        f"pack.{meta_key}",
                        _("登记册中没有依据文件 %(id)s(见 packs/sources.yaml)") % {"id": text_},
                    )
        seen: dict[str, ParsedRule] = {}
        for rule in pack.rules:
            first = seen.get(rule.rule_id)
            if first is not None:
                self.issue(
                    *rule.at("id"),
                    _("规则编号 %(id)s 重复(首次出现在 %(file)s:%(line)s)")
                    % {"id": rule.rule_id, "file": first.file, "line": first.line},
                    file=rule.file,
                )
                continue
            seen[rule.rule_id] = rule
            if rule.op == RuleOp.ADD and base is not None and rule.rule_id in base:
                self.issue(
                    *rule.at("id"),
                    _("基础规则包已有规则 %(id)s,请在 change 节中修改") % {"id": rule.rule_id},
                    file=rule.file,
                )
        if pack.meta.get("jurisdiction") == Jurisdiction.NATIONAL and not self.has_procedures:
            self.issue(1, "procedures", _("全国规则包必须包含项目目录"))

        # Procedure codes a limit may reference: the pack's own, plus the base's minus removals.
        codes = pack.procedure_codes()
        if base is not None or catalog is not None:
            codes |= {
                r.data["code"] for r in (catalog or base or {}).values() if r.kind == RuleKind.PROCEDURE
            }
            codes -= {r.rule_id[len(PROCEDURE_PREFIX) :] for r in pack.rules if r.op == RuleOp.REMOVE}
        for rule in pack.rules:
            if rule.kind in (RuleKind.LIMIT, RuleKind.TECHNOLOGY) and rule.op != RuleOp.REMOVE:
                for code in rule.data.get("procedures") or []:
                    if code not in codes:
                        self.issue(*rule.at("procedures"), _("引用了不存在的项目 %(code)s") % {"code": code})

        # One rule per subject / grade for kinds that are looked up that way.
        unique_by: dict[str, str] = {
            RuleKind.CHIEF_PHYSICIAN: "subject",
            RuleKind.PRACTICE_SCOPE: "subject",
            RuleKind.ANESTHESIA: "grade",
        }
        taken: dict[tuple[str, Any], str] = {}
        for rule in pack.rules:
            key_field = unique_by.get(rule.kind)
            if key_field is None or rule.op != RuleOp.ADD:
                continue
            key = (rule.kind, rule.data.get(key_field))
            if key in taken:
                self.issue(
                    *rule.at(key_field),
                    _("与规则 %(id)s 重复:同一 %(field)s 只能有一条")
                    % {"id": taken[key], "field": key_field},
                )
            else:
                taken[key] = rule.rule_id
        covered: dict[str, str] = {}
        for rule in pack.rules:
            if rule.kind == RuleKind.FOLLOW_UP and rule.op == RuleOp.ADD:
                for inv in rule.data.get("invasiveness") or []:
                    if inv in covered:
                        self.issue(
                            *rule.at("invasiveness"),
                            _("%(value)s 已由规则 %(id)s 覆盖") % {"value": inv, "id": covered[inv]},
                        )
                    covered[inv] = rule.rule_id


def _default_base_lookup(code: str, pack_dir: Path) -> dict[str, BaseRule] | None:
    """The base pack's rules: the newest version in the database, else a sibling directory."""
    from .models import Rule, RulePackVersion

    version = (
        RulePackVersion.objects.filter(pack__code=code)
        .order_by("-status", "-version")  # "published" sorts after "draft": published first
        .first()
    )
    if version is not None:
        return {
            r.rule_id: BaseRule(r.kind, r.data)
            for r in Rule.objects.filter(version=version).only("rule_id", "kind", "data")
        }
    sibling = pack_dir.parent / code
    if (sibling / PACK_FILE).is_file():
        try:
            parsed = parse_pack(sibling, base_lookup=lambda c, d: None)
        except PackInvalid:
            return None
        return {r.rule_id: BaseRule(r.kind, r.data) for r in parsed.rules}
    return None


def parse_pack(
    path: str | Path, *, base_lookup: Callable[[str, Path], dict[str, BaseRule] | None] | None = None
) -> ParsedPack:
    """Parse and validate a pack directory (or its pack.yaml). Raises ``PackInvalid``."""
    return _Parser(Path(path), base_lookup).parse()
