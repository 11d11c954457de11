"""Format checks for identifiers (pure functions; messages are Chinese source strings).

Patterns chosen here (documented in the docstrings and tested):

* 统一社会信用代码: GB 32100-2015 via ``stdnum.cn.uscc`` (18 chars, check character).
* 医疗机构执业许可证登记号: ``LICENCE_NO_RE`` — 9-char organisation code (digits/upper-case letters),
  6-digit administrative division code, then 7–8 digits/letters (type, nature and serial), 22–23 chars
  in all, e.g. ``PDY00001X11010517A1001``.
* 诊所备案凭证 number: ``CLINIC_FILING_NO_RE`` — no national format was found, so 6–40 characters of
  Chinese characters, digits, upper-case letters, brackets and ``-``, e.g. ``京朝卫诊备字〔2023〕第001号``.
* Device registration numbers (DD-03), Class I filings, drug approval numbers (DD-04): below.
* 身份证号: GB 11643 via ``stdnum.cn.ric`` (18 chars, date of birth, check digit).
* UDI (DD-05): GS1 element strings with application identifiers; ``(01)`` GTIN-14 with check digit.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum import ean
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

from .choices import ProductKind, RiskClass

LICENCE_NO_RE = re.compile(r"^[0-9A-Z]{9}\d{6}[0-9A-Z]{7,8}$")
CLINIC_FILING_NO_RE = re.compile(r"^[\u4e00-\u9fff0-9A-Z〔〕\[\]()()\-]{6,40}$")

_PROVINCE_ABBR = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# DD-03: X1械注X2 YYYY C NN SSSS.
DEVICE_REGISTRATION_RE = re.compile(rf"^(国|[{_PROVINCE_ABBR}])械注(准|进|许)(\d{{4}})([23])(\d{{6}})$")
# DD-03: Class I filing X1械备YYYYSSSS号 (X1: 国 for imports, else province + city abbreviation).
DEVICE_FILING_RE = re.compile(r"^([\u4e00-\u9fff]{1,6})械备(\d{4})(\d{4})号$")
# DD-04: 国药准字 + H/Z/S [+ C/J] + 8 digits.
DRUG_APPROVAL_RE = re.compile(r"^国药准字[HZS][CJ]?\d{8}$")


def normalize_code(value: str) -> str:
    """Upper-case, without spaces or hyphens typed for readability."""
    return re.sub(r"[\s-]", "", value or "").upper()


def validate_credit_code(value: str) -> None:
    try:
        uscc.validate(normalize_code(value))
    except StdnumError as exc:
        raise ValidationError(
            _("统一社会信用代码无效(应为18位且校验位正确)"), code="invalid_credit_code"
        ) from exc


def validate_licence_no(value: str) -> None:
    if not LICENCE_NO_RE.match(value or ""):
        raise ValidationError(
            _("执业许可证登记号格式不正确(应为22–23位数字或大写字母,第10–15位为行政区划代码)"),
            code="invalid_licence_no",
        )


def validate_clinic_filing_no(value: str) -> None:
    if not CLINIC_FILING_NO_RE.match(value or ""):
        raise ValidationError(_("诊所备案凭证编号格式不正确"), code="invalid_filing_no")


def validate_id_number(value: str) -> None:
    try:
        ric.validate(normalize_code(value))
    except StdnumError as exc:
        raise ValidationError(
            _("身份证号无效(应为18位且出生日期与校验位正确)"), code="invalid_id_number"
        ) from exc


def validate_registration_no(value: str, kind: str, risk_class: str) -> None:
    """The product kind decides which formats are allowed (DD-03, DD-04)."""
    value = (value or "").strip()
    if kind == ProductKind.DRUG:
        if not DRUG_APPROVAL_RE.match(value):
            raise ValidationError(
                _("药品批准文号格式不正确(应为 国药准字+H/Z/S+8位数字)"), code="invalid_registration_no"
            )
        return
    reg = DEVICE_REGISTRATION_RE.match(value)
    if reg:
        origin, source, _year, digit, _rest = reg.groups()
        if risk_class == RiskClass.CLASS_I:
            raise ValidationError(_("第一类医疗器械应为备案凭证编号(…械备…号)"), code="class_mismatch")
        if risk_class and digit != {"II": "2", "III": "3"}[risk_class]:
            raise ValidationError(_("注册证编号中的管理类别与风险等级不一致"), code="class_mismatch")
        if origin != "国" and (source != "准" or digit != "2"):
            raise ValidationError(_("省级注册证仅适用于境内第二类医疗器械"), code="class_mismatch")
        if origin == "国" and source == "准" and digit != "3":
            raise ValidationError(_("境内第二类医疗器械应由省级部门注册"), code="class_mismatch")
        return
    if DEVICE_FILING_RE.match(value):
        if risk_class and risk_class != RiskClass.CLASS_I:
            raise ValidationError(_("备案凭证仅适用于第一类医疗器械"), code="class_mismatch")
        return
    raise ValidationError(
        _("医疗器械注册证/备案编号格式不正确(如 国械注准20153131234 或 京朝械备20150001号)"),
        code="invalid_registration_no",
    )


@dataclass(frozen=True)
class Udi:
    gtin: str
    serial: str = ""
    lot: str = ""
    expiry: dt.date | None = None
    production_date: dt.date | None = None


_AI_RE = re.compile(r"\((\d{2,4})\)([^()]*)")
_KNOWN_AI = {"01", "10", "11", "17", "21"}


def _gs1_date(value: str) -> dt.date:
    if not re.fullmatch(r"\d{6}", value):
        raise ValueError(value)
    year, month, day = 2000 + int(value[:2]), int(value[2:4]), int(value[4:])
    if day == 0:  # GS1: day 00 means the last day of the month
        next_month = dt.date(year + month // 12, month % 12 + 1, 1)
        return next_month - dt.timedelta(days=1)
    return dt.date(year, month, day)


def validate_gtin(value: str) -> None:
    """A GTIN-14 with a valid check digit (the UDI-DI of a product, DD-05)."""
    if not re.fullmatch(r"\d{14}", value or ""):
        raise ValidationError(_("UDI-DI 应为14位数字(GTIN-14)"), code="invalid_gtin")
    try:
        ean.validate(value)
    except StdnumError as exc:
        raise ValidationError(_("GTIN 校验位不正确"), code="invalid_gtin") from exc


def parse_udi(value: str) -> Udi:
    """Parse a human-readable GS1 UDI, e.g. ``(01)06901234567892(17)270101(10)L01(21)SN9``."""
    text = (value or "").strip()
    elements = _AI_RE.findall(text)
    if not elements or "".join(f"({ai}){v}" for ai, v in elements) != text:
        raise ValidationError(
            _("UDI 格式不正确,应为带括号的 GS1 应用标识符,如 (01)…(21)…"), code="invalid_udi"
        )
    data: dict[str, str] = {}
    for ai, v in elements:
        if ai not in _KNOWN_AI or ai in data or not v:
            raise ValidationError(
                _("UDI 含有不支持、重复或为空的应用标识符 (%(ai)s)") % {"ai": ai}, code="invalid_udi"
            )
        data[ai] = v
    gtin = data.get("01", "")
    if not re.fullmatch(r"\d{14}", gtin):
        raise ValidationError(_("UDI 必须包含 (01) 14位 GTIN"), code="invalid_udi")
    try:
        ean.validate(gtin)
    except StdnumError as exc:
        raise ValidationError(_("UDI 中 GTIN 校验位不正确"), code="invalid_gtin") from exc
    dates: dict[str, Any] = {}
    for ai in ("11", "17"):
        if ai in data:
            try:
                dates[ai] = _gs1_date(data[ai])
            except ValueError as exc:
                raise ValidationError(
                    _("UDI 中日期 (%(ai)s) 应为 YYMMDD") % {"ai": ai}, code="invalid_udi"
                ) from exc
    for ai in ("10", "21"):
        if ai in data and len(data[ai]) > 20:
            raise ValidationError(_("UDI 中批号/序列号最长20位"), code="invalid_udi")
    return Udi(
        gtin=gtin,
        serial=data.get("21", ""),
        lot=data.get("10", ""),
        expiry=dates.get("17"),
        production_date=dates.get("11"),
    )


def validate_udi(value: str) -> None:
    parse_udi(value)


def validate_evidence_file(file: Any) -> None:
    if not file:
        return
    name = getattr(file, "name", "") or ""
    ext = PurePath(name).suffix.lower().lstrip(".")
    if ext not in settings.EVIDENCE_EXTENSIONS:
        raise ValidationError(
            _("证明文件类型不允许,仅支持:%(types)s") % {"types": ", ".join(settings.EVIDENCE_EXTENSIONS)},
            code="invalid_extension",
        )
    size = getattr(file, "size", None)
    if size is not None and size > settings.EVIDENCE_MAX_BYTES:
        raise ValidationError(
            _("证明文件过大(最大 %(mb)s MB)") % {"mb": round(settings.EVIDENCE_MAX_BYTES / 1024 / 1024, 1)},
            code="file_too_large",
        )
