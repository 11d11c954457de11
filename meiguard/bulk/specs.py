"""The three sheet formats, declared once: template generation, export and import all read these specs.

A ``Column`` knows its Chinese header, how to read a cell (``parse``: type, required, length, choices by
Chinese label, checksums through the registry's validators) and how to write a value back (``to_cell``).
Headers and choice labels are the file format, so they are always Chinese whatever the UI language;
error messages follow the UI language.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _

from meiguard.authz.choices import AuthorizationKind, AuthorizationStatus, TechnologyKind
from meiguard.core.excel import xlsx_value
from meiguard.core.schemas import control_character_error, is_multiline
from meiguard.registry import validators as v
from meiguard.registry.choices import CreditClass, QualificationKind
from meiguard.registry.models import practitioner_licence_validator
from meiguard.rules.choices import PRACTICE_SCOPES, PracticeCategory, Profession, Subject, Title

FORMAT_LANGUAGE = "zh-hans"
MASK_CHAR = "*"


class ColumnType(StrEnum):
    TEXT = "text"
    CODE = "code"  # upper-cased, spaces and hyphens removed (licence numbers)
    ID_NUMBER = "id_number"  # 身份证号, GB 11643 checksum
    CREDIT_CODE = "credit_code"  # 统一社会信用代码, GB 32100 checksum
    DATE = "date"
    INT = "int"
    DECIMAL = "decimal"
    CHOICE = "choice"


class Ref(StrEnum):
    """What a column names by its natural key."""

    NONE = ""
    INSTITUTION = "institution"  # an institution the actor may write (by credit code)
    ANY_INSTITUTION = "any_institution"  # an institution the actor may see (technology grantees)
    PRACTITIONER = "practitioner"  # a practitioner the actor may see, or one in the same file (by ID number)


class CellError(Exception):
    """One cell's value is unusable; the message is already translated."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


Choices = Sequence[tuple[str, Any]]


@dataclass(frozen=True, eq=False)
class Column:
    key: str
    header: str
    type: ColumnType = ColumnType.TEXT
    required: bool = False
    max_length: int | None = None
    choices: Choices = ()
    default: Any = None
    min_value: int | Decimal | None = None
    max_value: int | Decimal | None = None
    decimal_places: int = 0
    max_digits: int = 0
    ref: Ref = Ref.NONE
    # Names under which actions report errors about this column (``practitioner_id``, ``practitioner``…).
    fields: tuple[str, ...] = ()
    validators: tuple[Callable[[str], None], ...] = ()
    help: str = ""
    width: int = 14

    # ---- reading -------------------------------------------------------------------------------

    def empty(self) -> Any:
        if self.default is not None:
            return self.default
        if self.type in (ColumnType.DATE, ColumnType.INT, ColumnType.DECIMAL):
            return None
        return ""

    def parse(self, raw: Any) -> Any:
        """The Python value of one cell, or ``CellError`` with a precise message."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if self.required:
                raise CellError(_("必填项,不能为空"))
            return self.empty()
        parser = getattr(self, f"_parse_{self.type.value}")
        return parser(raw)

    def _text(self, raw: Any) -> str:
        if isinstance(raw, bool):
            raise CellError(_("应为文本"))
        if isinstance(raw, float) and raw.is_integer():
            raw = int(raw)
        if isinstance(raw, dt.datetime):
            raw = raw.date()
        text = raw.isoformat() if isinstance(raw, dt.date) else str(raw)
        text = text.replace("\u3000", " ").strip()
        problem = control_character_error(text, multiline=is_multiline(self.key))
        if problem:
            raise CellError(problem)
        if self.max_length is not None and len(text) > self.max_length:
            raise CellError(
                _("长度不能超过 %(n)s 个字符(现为 %(m)s 个)") % {"n": self.max_length, "m": len(text)}
            )
        return text

    def _run_validators(self, value: str) -> None:
        for validator in self.validators:
            try:
                validator(value)
            except ValidationError as exc:
                raise CellError("; ".join(str(m) for m in exc.messages)) from None

    def _parse_text(self, raw: Any) -> str:
        text = self._text(raw)
        self._run_validators(text)
        return text

    def _parse_code(self, raw: Any) -> str:
        code = v.normalize_code(self._text(raw))
        self._run_validators(code)
        return code

    def _long_number_as_text(self, raw: Any, what: str) -> str:
        if isinstance(raw, int | float | Decimal) and not isinstance(raw, bool):
            raise CellError(
                _("%(what)s须以文本格式填写(数字格式会丢失末几位),请先把单元格设为文本再输入")
                % {"what": what}
            )
        return v.normalize_code(self._text(raw))

    def _parse_id_number(self, raw: Any) -> str:
        value = self._long_number_as_text(raw, _("身份证号"))
        if MASK_CHAR in value:
            raise CellError(_("身份证号已脱敏(含 *),不能用于导入,请填写完整号码"))
        try:
            v.validate_id_number(value)
        except ValidationError as exc:
            raise CellError(str(exc.messages[0])) from None
        return value

    def _parse_credit_code(self, raw: Any) -> str:
        value = self._long_number_as_text(raw, _("统一社会信用代码"))
        try:
            v.validate_credit_code(value)
        except ValidationError as exc:
            raise CellError(str(exc.messages[0])) from None
        return value

    def _parse_date(self, raw: Any) -> dt.date:
        if isinstance(raw, dt.datetime):
            return raw.date()
        if isinstance(raw, dt.date):
            return raw
        if isinstance(raw, str):
            match = re.fullmatch(r"\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?\s*", raw)
            if match:
                try:
                    return dt.date(*(int(g) for g in match.groups()))
                except ValueError:
                    raise CellError(_("日期不存在:%(value)s") % {"value": raw.strip()}) from None
        raise CellError(_("日期格式应为 YYYY-MM-DD(例如 2026-03-01)"))

    def _range(self, number: Any) -> None:
        if self.min_value is not None and number < self.min_value:
            raise CellError(_("不能小于 %(n)s") % {"n": self.min_value})
        if self.max_value is not None and number > self.max_value:
            raise CellError(_("不能大于 %(n)s") % {"n": self.max_value})

    def _parse_int(self, raw: Any) -> int:
        number: int | None = None
        if isinstance(raw, bool):
            number = None
        elif isinstance(raw, int):
            number = raw
        elif (isinstance(raw, float) and raw.is_integer()) or (
            isinstance(raw, str) and re.fullmatch(r"\s*[+-]?[0-9]{1,9}\s*", raw)
        ):
            number = int(raw)
        if number is None:
            raise CellError(_("应为整数"))
        self._range(number)
        return number

    def _parse_decimal(self, raw: Any) -> Decimal:
        if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal | str):
            raise CellError(_("应为数字"))
        if isinstance(raw, str) and not re.fullmatch(r"\s*[+-]?[0-9]{1,30}(\.[0-9]{1,30})?\s*", raw):
            raise CellError(_("应为数字"))
        try:
            number = Decimal(str(raw).strip())
        except InvalidOperation:
            raise CellError(_("应为数字")) from None
        if not number.is_finite():
            raise CellError(_("应为数字"))
        exponent = number.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > self.decimal_places:
            raise CellError(_("最多 %(n)s 位小数") % {"n": self.decimal_places})
        self._range(number)
        quantized = number.quantize(Decimal(1).scaleb(-self.decimal_places))
        if self.max_digits and len(quantized.as_tuple().digits) > self.max_digits:
            raise CellError(_("数字过大"))
        return quantized

    def _parse_choice(self, raw: Any) -> str:
        text = self._text(raw)
        by_label, values = _choice_maps(self)
        if text in by_label:
            return by_label[text]
        if text in values:
            return text
        raise CellError(
            _("“%(value)s”不是可选值,可选:%(choices)s") % {"value": text, "choices": "、".join(by_label)}
        )

    # ---- writing -------------------------------------------------------------------------------

    def to_cell(self, value: Any) -> Any:
        """The cell value written to a workbook (labels for choices, dates as dates, blanks as empty)."""
        if value is None or value == "":
            return None
        if self.type == ColumnType.CHOICE:
            return self.label(value)
        if self.type == ColumnType.DECIMAL:
            return Decimal(value)
        return xlsx_value(value)

    def label(self, value: str) -> str:
        by_value = {val: lab for lab, val in _choice_maps(self)[0].items()}
        return by_value.get(value, value)

    def labels(self) -> list[str]:
        return list(_choice_maps(self)[0])

    # ---- documentation -------------------------------------------------------------------------

    def format_text(self) -> str:
        t = self.type
        if t == ColumnType.TEXT:
            return f"文本,最多{self.max_length}字" if self.max_length else "文本"
        if t == ColumnType.CODE:
            return "文本(字母自动转为大写,空格与连字符忽略)"
        if t == ColumnType.ID_NUMBER:
            return "18位身份证号,文本格式,校验位须正确"
        if t == ColumnType.CREDIT_CODE:
            return "18位统一社会信用代码,文本格式,校验位须正确"
        if t == ColumnType.DATE:
            return "日期 YYYY-MM-DD"
        if t == ColumnType.INT:
            return f"整数 {self.min_value}–{self.max_value}"
        if t == ColumnType.DECIMAL:
            return f"数字,不小于{self.min_value},最多{self.decimal_places}位小数"
        return "从下拉列表选择"


_CHOICE_MAPS: dict[int, tuple[Column, dict[str, str], frozenset[str]]] = {}


def _choice_maps(column: Column) -> tuple[dict[str, str], frozenset[str]]:
    """{Chinese label: value} and the set of values; labels are evaluated in the file's language.

    Cached by identity: columns are module constants, and their lazy labels must not be hashed in
    whatever language happens to be active."""
    cached = _CHOICE_MAPS.get(id(column))
    if cached is None or cached[0] is not column:
        with translation.override(FORMAT_LANGUAGE):
            by_label = {str(label): str(value) for value, label in column.choices}
        cached = _CHOICE_MAPS[id(column)] = (column, by_label, frozenset(by_label.values()))
    return cached[1], cached[2]


def _pairs(choices: Any) -> tuple[tuple[str, Any], ...]:
    return tuple((str(value), label) for value, label in choices)


@dataclass(frozen=True)
class SheetSpec:
    kind: str
    title: str  # the worksheet's name
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # natural key (column keys) that identifies an existing row
    key_text: str = ""
    by_key: dict[str, Column] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        self.by_key.update({c.key: c for c in self.columns})

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def column_for_field(self, name: str) -> Column | None:
        """The column an action's error names (``practitioner_id`` → 身份证号)."""
        for column in self.columns:
            if name == column.key or name in column.fields:
                return column
        return None


PRACTITIONERS = SheetSpec(
    kind="practitioners",
    title="执业人员",
    key=("id_number",),
    key_text="身份证号(全系统唯一):已登记且主执业机构为本行机构的人员更新,否则新增",
    columns=(
        Column(
            "institution",
            "主执业机构统一社会信用代码",
            ColumnType.CREDIT_CODE,
            required=True,
            ref=Ref.INSTITUTION,
            fields=("main_institution_id", "main_institution"),
            help="您可管理的机构之一,见“机构代码”工作表",
            width=28,
        ),
        Column("name", "姓名", required=True, max_length=64, fields=("name",), width=12),
        Column(
            "id_number",
            "身份证号",
            ColumnType.ID_NUMBER,
            required=True,
            fields=("id_number",),
            help="识别同一人员;无权查看完整号码时导出为脱敏值,脱敏值不能导入",
            width=22,
        ),
        Column("profession", "职业", ColumnType.CHOICE, required=True, choices=_pairs(Profession.choices)),
        Column(
            "licence_no",
            "执业证书编码",
            ColumnType.CODE,
            max_length=32,
            validators=(practitioner_licence_validator,),
            help="医师和护士必填;8–30位数字或大写字母",
            width=20,
        ),
        Column(
            "practice_category",
            "执业类别",
            ColumnType.CHOICE,
            choices=_pairs(PracticeCategory.choices),
            help="医师必填(临床/口腔/中医/公共卫生);护士为护理或留空",
        ),
        Column(
            "practice_scope",
            "执业范围",
            ColumnType.CHOICE,
            choices=tuple((s, s) for s in PRACTICE_SCOPES),
            help="医师必填",
            width=18,
        ),
        Column(
            "title",
            "职称",
            ColumnType.CHOICE,
            choices=_pairs(Title.choices),
            default=str(Title.NONE),
            help="留空视为“无”",
        ),
        Column("practising_since", "开始执业日期", ColumnType.DATE, help="不能晚于今天"),
    ),
)

QUALIFICATIONS = SheetSpec(
    kind="qualifications",
    title="资质",
    key=("practitioner", "kind", "number", "subject", "year", "credit_class"),
    key_text="身份证号 + 资质类型 + 证书编号 + 专业 + 年度 + 学分类别:相同即为同一条资质(更新),否则新增",
    columns=(
        Column(
            "practitioner",
            "身份证号",
            ColumnType.ID_NUMBER,
            required=True,
            ref=Ref.PRACTITIONER,
            fields=("practitioner_id", "practitioner"),
            help="已登记的人员,或本文件“执业人员”表中的人员",
            width=22,
        ),
        Column(
            "practitioner_name",
            "姓名",
            required=True,
            max_length=64,
            help="须与身份证号对应人员的姓名一致",
            width=12,
        ),
        Column(
            "kind",
            "资质类型",
            ColumnType.CHOICE,
            required=True,
            choices=_pairs(QualificationKind.choices),
            width=24,
        ),
        Column(
            "number",
            "证书编号",
            max_length=64,
            fields=("number",),
            help="执业证书、职称证书、护士执业注册、培训证书必填",
            width=20,
        ),
        Column(
            "subject",
            "专业(科目)",
            ColumnType.CHOICE,
            choices=_pairs(Subject.choices),
            fields=("subject",),
            help="仅主诊医师备案填写(必填)",
        ),
        Column("issuer", "发证/备案机关", max_length=128, fields=("issuer",), width=20),
        Column("filing_date", "备案日期", ColumnType.DATE, fields=("filing_date",), help="主诊医师备案必填"),
        Column(
            "qualifying_years",
            "相关临床工作年限",
            ColumnType.INT,
            min_value=0,
            max_value=80,
            fields=("qualifying_years",),
            help="主诊医师备案必填",
        ),
        Column(
            "product_reference",
            "产品/设备型号",
            max_length=128,
            fields=("product_reference",),
            help="仅培训证书填写",
            width=18,
        ),
        Column("valid_from", "有效期自", ColumnType.DATE, fields=("valid_from",)),
        Column("valid_until", "有效期至", ColumnType.DATE, fields=("valid_until",)),
        Column(
            "hours",
            "学时",
            ColumnType.DECIMAL,
            min_value=Decimal(0),
            max_value=Decimal("99999.9"),
            decimal_places=1,
            max_digits=6,
            fields=("hours",),
            help="仅护士培训学时填写(必填)",
        ),
        Column(
            "credits",
            "学分",
            ColumnType.DECIMAL,
            min_value=Decimal(0),
            max_value=Decimal("9999.9"),
            decimal_places=1,
            max_digits=5,
            fields=("credits",),
            help="仅继续医学教育填写(必填)",
        ),
        Column(
            "credit_class",
            "学分类别",
            ColumnType.CHOICE,
            choices=_pairs(CreditClass.choices),
            fields=("credit_class",),
            help="仅继续医学教育填写(必填)",
        ),
        Column(
            "year",
            "年度",
            ColumnType.INT,
            min_value=1950,
            max_value=2100,
            fields=("year",),
            help="护士培训学时、继续医学教育必填",
        ),
    ),
)

AUTHORIZATIONS = SheetSpec(
    kind="authorizations",
    title="授权",
    key=(
        "institution",
        "kind",
        "practitioner",
        "grantee_institution",
        "procedure_code",
        "procedure_category",
        "subject",
        "product_brand",
        "device_model",
        "technology_name",
        "valid_from",
    ),
    key_text=(
        "授权机构 + 授权类型 + 被授权人 + 被授权机构 + 项目编码/类别/专业/产品品牌/设备型号/技术名称 + 生效日期:"
        "相同即为同一条授权。已有授权不能通过导入修改,只能由“草稿”改为“生效”"
    ),
    columns=(
        Column(
            "institution",
            "授权机构统一社会信用代码",
            ColumnType.CREDIT_CODE,
            required=True,
            ref=Ref.INSTITUTION,
            fields=("institution_id", "institution"),
            help="您可管理授权的机构之一,见“机构代码”工作表",
            width=28,
        ),
        Column(
            "kind",
            "授权类型",
            ColumnType.CHOICE,
            required=True,
            choices=_pairs(AuthorizationKind.choices),
            fields=("kind",),
            width=16,
        ),
        Column(
            "practitioner",
            "被授权人身份证号",
            ColumnType.ID_NUMBER,
            ref=Ref.PRACTITIONER,
            fields=("practitioner_id", "practitioner"),
            help="资质、产品、设备授权必填;须在授权机构执业(含多点执业)",
            width=22,
        ),
        Column(
            "practitioner_name",
            "被授权人姓名",
            max_length=64,
            help="填写被授权人身份证号时必填,须与其姓名一致",
            width=12,
        ),
        Column(
            "grantee_institution",
            "被授权机构统一社会信用代码",
            ColumnType.CREDIT_CODE,
            ref=Ref.ANY_INSTITUTION,
            fields=("grantee_institution_id", "grantee_institution"),
            help="仅技术授权填写",
            width=28,
        ),
        Column("grantor", "授权方", max_length=128, fields=("grantor",), help="留空为授权机构本身", width=16),
        Column(
            "procedure_code",
            "项目编码",
            max_length=64,
            fields=("procedure_code",),
            help="资质授权:项目编码、项目类别、专业三者填一项;编码须在规则包中",
            width=30,
        ),
        Column("procedure_category", "项目类别", max_length=32, fields=("procedure_category",)),
        Column("subject", "专业", ColumnType.CHOICE, choices=_pairs(Subject.choices), fields=("subject",)),
        Column("product_brand", "产品品牌", max_length=128, fields=("product_brand",), help="产品授权必填"),
        Column("device_model", "设备型号", max_length=128, fields=("device_model",), help="设备授权必填"),
        Column(
            "technology_name", "技术名称", max_length=128, fields=("technology_name",), help="技术授权必填"
        ),
        Column(
            "technology_kind",
            "技术授权类别",
            ColumnType.CHOICE,
            choices=_pairs(TechnologyKind.choices),
            fields=("technology_kind",),
            help="技术授权必填",
        ),
        Column("scope_note", "范围说明", max_length=2000, fields=("scope_note",), width=20),
        Column("valid_from", "生效日期", ColumnType.DATE, required=True, fields=("valid_from",)),
        Column("valid_until", "截止日期", ColumnType.DATE, fields=("valid_until",), help="留空为长期"),
        Column(
            "max_grade",
            "最高手术级别",
            ColumnType.INT,
            min_value=1,
            max_value=4,
            fields=("max_grade",),
        ),
        Column(
            "supervisor",
            "指导主诊医师身份证号",
            ColumnType.ID_NUMBER,
            ref=Ref.PRACTITIONER,
            fields=("supervisor_id", "supervisor"),
            width=22,
        ),
        Column("conditions_note", "附加条件", max_length=2000, fields=("conditions_note",), width=20),
        Column(
            "status",
            "状态",
            ColumnType.CHOICE,
            choices=_pairs(AuthorizationStatus.choices),
            default=str(AuthorizationStatus.DRAFT),
            fields=("status",),
            help="新增时只能为“草稿”或“生效”(留空为草稿);已有的草稿可改为“生效”",
        ),
    ),
)

SHEETS: dict[str, SheetSpec] = {s.kind: s for s in (PRACTITIONERS, QUALIFICATIONS, AUTHORIZATIONS)}

# Which sheets a workbook of each kind holds, in the order they are read and written.
SHEETS_BY_KIND: dict[str, tuple[SheetSpec, ...]] = {
    "practitioners": (PRACTITIONERS,),
    "qualifications": (QUALIFICATIONS,),
    "authorizations": (AUTHORIZATIONS,),
    "full": (PRACTITIONERS, QUALIFICATIONS, AUTHORIZATIONS),
}

INSTRUCTIONS_SHEET = "填写说明"
INSTITUTIONS_SHEET = "机构代码"
OPTIONS_SHEET = "选项"
AUXILIARY_SHEETS = frozenset({INSTRUCTIONS_SHEET, INSTITUTIONS_SHEET, OPTIONS_SHEET})
