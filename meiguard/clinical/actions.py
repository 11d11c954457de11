"""Every state change of the treatment case. Each is atomic and writes an audit entry in the same transaction.

Case-level steps lock the case row first (``select_for_update``), so two devices acting on one case are
serialised on PostgreSQL; unique constraints (one node per case, one vote per member, one usage per key, one
active consent per case, one record per case) are the second line. Signers are the practitioners linked to
the acting user; the engine (``authz.actions.check``) decides whether they are qualified at that moment, and
its decision-log row is kept with the signature, record or usage it allowed.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from meiguard.audit import log as audit
from meiguard.authz import actions as authz
from meiguard.authz.choices import DecisionChannel
from meiguard.authz.facts import ProductUse
from meiguard.authz.policy import Severity
from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.schemas import control_character_error, is_multiline
from meiguard.inventory import actions as stock
from meiguard.registry import validators as v
from meiguard.registry.crypto import blind_index
from meiguard.registry.models import Device, Institution, Lot, Practitioner
from meiguard.rules.choices import Profession
from meiguard.rules.services import resolve
from meiguard.workflow.models import ExpertCommittee

from . import policy
from .choices import (
    CLINICAL_ADMINS,
    CLINICAL_WRITERS,
    CaseStatus,
    ChecklistNodeKind,
    ChecklistParty,
    ConsentDecision,
    DocumentType,
    PrivacyScope,
    RecordStatus,
    ReviewKind,
    ReviewStatus,
    SignerRelation,
    SignStatus,
    Verdict,
)
from .models import (
    Assessment,
    Case,
    ChecklistNode,
    Client,
    ClinicalSettings,
    ConsentSignature,
    ConsentTemplate,
    Consultation,
    ConsultationItem,
    OperationRecord,
    PrivacyConsent,
    ProcedurePrice,
    Review,
    ReviewVote,
    Usage,
)
from .scan import parse_gs1

MAX_SIGNATURE_BYTES = 200_000
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ADULT_AGE = 18


# ---- helpers ------------------------------------------------------------------------------------


def _now(at: dt.datetime | None = None) -> dt.datetime:
    return at or timezone.now()


def _institution(actor: Actor, institution_id: int, roles: frozenset[str] = CLINICAL_WRITERS) -> Institution:
    inst = Institution.objects.visible_to(actor).filter(pk=institution_id).first()
    if inst is None:
        raise NotFoundField("institution_id")
    if not actor.can_write_org(inst.organization_id, roles):
        raise ActionError(
            "FORBIDDEN", _("您没有在该机构执行此操作的权限"), field="institution_id", status=403
        )
    return inst


def _client_for_update(actor: Actor, client_id: int) -> Client:
    client = (
        Client.objects.writable_by(actor)
        .select_for_update(of=("self",))
        .select_related("institution")
        .filter(pk=client_id)
        .first()
    )
    if client is None:
        raise NotFoundField("client_id")
    return client


def _case_for_update(actor: Actor, case_id: int) -> Case:
    """The case row, locked: every step of one case is serialised on it."""
    case = (
        Case.objects.writable_by(actor)
        .select_for_update(of=("self",))
        .select_related("institution", "client")
        .filter(pk=case_id)
        .first()
    )
    if case is None:
        raise NotFoundField("case_id")
    return case


def _require_open(case: Case) -> None:
    if case.status != CaseStatus.OPEN:
        raise ActionError("CASE_NOT_OPEN", _("病例不在术前准备状态"), field="case_id", status=409)


def signer(actor: Actor, institution_id: int) -> Practitioner:
    """The practitioner linked to the acting user, active, at this institution (main or a registered site)."""
    if actor.user_id is None:
        raise ActionError("NOT_A_PRACTITIONER", _("签名须由本人账号完成"), status=403)
    person = (
        Practitioner.objects.filter(user_id=actor.user_id, status="active")
        .filter(Q(main_institution_id=institution_id) | Q(sites__institution_id=institution_id))
        .first()
    )
    if person is None:
        raise ActionError("NOT_A_PRACTITIONER", _("您的账号未关联本机构在岗的执业人员,不能签名"), status=403)
    return person


def _engine(
    actor: Actor,
    case: Case,
    *,
    practitioner_id: int | None = None,
    anesthetist_id: int | None = None,
    products: tuple[ProductUse, ...] = (),
    device_ids: tuple[int, ...] = (),
    at: dt.datetime | None = None,
) -> authz.Checked:
    req = authz.as_request(
        institution_id=case.institution_id,
        practitioner_id=practitioner_id or case.operator_id,
        procedure_code=case.procedure_code,
        at=at,
        products=products,
        device_ids=device_ids,
        anesthetist_id=anesthetist_id if anesthetist_id is not None else case.anesthetist_id,
        anesthesia=case.anesthesia or None,
    )
    return authz.check(actor, req, channel=DecisionChannel.API)


def _denials(checked: authz.Checked, keep: Any = lambda code: True) -> list[dict[str, str]]:
    return [
        {
            "field": "engine",
            "code": r["code"],
            "message": r["message"],
            # The layer and its document: "本机构规范 v2 · 《…》", "全国基线 v1 · 《…》".
            "source": f"{r['rule']['pack_label']} · {r['rule']['source']}",
        }
        for r in authz.reasons_out(checked.decision)
        if r["severity"] == Severity.DENY and keep(r["code"])
    ]


def _text(
    value: str, field: str, max_length: int, errors: dict[str, list[str]], *, required: bool = True
) -> str:
    value = (value or "").strip()
    if required and not value:
        errors.setdefault(field, []).append(_("此字段为必填项"))
    elif len(value) > max_length:
        errors.setdefault(field, []).append(_("长度不能超过 %(n)s") % {"n": max_length})
    elif problem := control_character_error(value, multiline=is_multiline(field) or max_length > 500):
        errors.setdefault(field, []).append(problem)
    return value


def _raise(errors: dict[str, list[str]]) -> None:
    if errors:
        raise FieldErrors(errors)


# ---- institution settings and prices -----------------------------------------------------------


@transaction.atomic
def save_settings(actor: Actor, institution_id: int, **values: Any) -> ClinicalSettings:
    inst = _institution(actor, institution_id, CLINICAL_ADMINS)
    obj, created = ClinicalSettings.objects.select_for_update().get_or_create(institution=inst)
    before = None if created else audit.snapshot(obj)
    for key in ("medium_risk_from", "high_risk_from", "fail_from", "two_party_checklist_under_local"):
        if key in values and values[key] is not None:
            setattr(obj, key, values[key])
    if not (obj.medium_risk_from <= obj.high_risk_from <= obj.fail_from):
        raise FieldErrors({"high_risk_from": [_("分值须满足:中风险起始分 ≤ 高风险起始分 ≤ 不达标起始分")]})
    if not created:
        obj.version += 1
    obj.save()
    audit.record(actor, "clinical.clinicalsettings.saved", obj, before=before)
    return obj


def thresholds(institution_id: int) -> tuple[policy.Thresholds, int, bool]:
    """The institution's scoring thresholds, their version and the checklist setting (defaults from data)."""
    s = ClinicalSettings.objects.filter(institution_id=institution_id).first()
    if s is None:
        d = policy.assessment_form()["defaults"]
        return policy.Thresholds(d["medium_risk_from"], d["high_risk_from"], d["fail_from"]), 0, True
    return (
        policy.Thresholds(s.medium_risk_from, s.high_risk_from, s.fail_from),
        s.version,
        s.two_party_checklist_under_local,
    )


def _procedure(inst: Institution, code: str, field: str = "procedure_code") -> Any:
    pack = resolve(inst.province, timezone.localdate(), inst.pk)
    proc = pack.procedures.get(code)
    if proc is None:
        raise NotFoundField(field)
    return proc


@transaction.atomic
def set_price(actor: Actor, institution_id: int, *, procedure_code: str, price: Decimal) -> ProcedurePrice:
    inst = _institution(actor, institution_id, CLINICAL_ADMINS)
    _procedure(inst, procedure_code)
    if price < 0:
        raise FieldErrors({"price": [_("不能小于 %(n)s") % {"n": 0}]})
    obj = (
        ProcedurePrice.objects.select_for_update()
        .filter(institution=inst, procedure_code=procedure_code)
        .first()
    )
    before = audit.snapshot(obj) if obj else None
    if obj is None:
        obj = ProcedurePrice(institution=inst, procedure_code=procedure_code)
    elif obj.price == price:
        return obj
    obj.price = price
    obj.published_at = timezone.now()
    obj.save()
    audit.record(actor, "clinical.procedureprice.saved", obj, before=before)
    return obj


# ---- client file --------------------------------------------------------------------------------

CLIENT_TEXT_FIELDS = {
    "allergies": 2000,
    "medical_history": 4000,
    "medications": 2000,
    "previous_treatments": 4000,
}


def normalize_document(document_type: str, number: str) -> str:
    number = v.normalize_code(number)
    return number


@transaction.atomic
def create_client(actor: Actor, *, institution_id: int, data: Mapping[str, Any]) -> Client:
    inst = _institution(actor, institution_id)
    errors: dict[str, list[str]] = {}
    name = _text(data.get("name", ""), "name", 64, errors)
    phone = (data.get("phone") or "").strip().replace(" ", "").replace("-", "")
    if not phone or not phone.lstrip("+").isdigit() or not (5 <= len(phone) <= 20):
        errors.setdefault("phone", []).append(_("请输入有效的电话号码"))
    doc_type = data.get("document_type") or DocumentType.RESIDENT_ID
    number = normalize_document(doc_type, data.get("id_number") or "")
    if not number:
        errors.setdefault("id_number", []).append(_("此字段为必填项"))
    elif doc_type == DocumentType.RESIDENT_ID:
        try:
            v.validate_id_number(number)
        except Exception:
            errors.setdefault("id_number", []).append(_("身份证号无效(应为18位且出生日期与校验位正确)"))
    elif len(number) > 32 or not number.isalnum():
        errors.setdefault("id_number", []).append(_("证件号码应为不超过32位的字母或数字"))
    born = data.get("date_of_birth")
    if born is None:
        errors.setdefault("date_of_birth", []).append(_("此字段为必填项"))
    elif born > timezone.localdate():
        errors.setdefault("date_of_birth", []).append(_("出生日期不能晚于今天"))
    texts = {k: _text(data.get(k, ""), k, n, errors, required=False) for k, n in CLIENT_TEXT_FIELDS.items()}
    _raise(errors)
    index = blind_index(f"{doc_type}:{number}")
    if Client.objects.filter(institution=inst, document_type=doc_type, id_number_index=index).exists():
        raise ActionError(
            "CLIENT_EXISTS", _("本机构已有该证件的求美者档案(一人一档)"), field="id_number", status=409
        )
    client = Client(
        institution=inst,
        name=name,
        sex=data.get("sex") or "unknown",
        date_of_birth=born,  # type: ignore[misc]
        phone=phone,
        document_type=doc_type,
        id_number=number,
        id_number_index=index,
        nationality=(data.get("nationality") or "中国").strip()[:64],
        created_by_id=actor.user_id,
        **texts,
    )
    try:
        with transaction.atomic():
            client.save(force_insert=True)
    except IntegrityError:
        raise ActionError(
            "CLIENT_EXISTS", _("本机构已有该证件的求美者档案(一人一档)"), field="id_number", status=409
        ) from None
    audit.record(actor, "clinical.client.created", client, before={})
    return client


@transaction.atomic
def update_client_health(actor: Actor, client_id: int, *, data: Mapping[str, Any]) -> Client:
    client = _client_for_update(actor, client_id)
    before = audit.snapshot(client)
    errors: dict[str, list[str]] = {}
    for key, n in CLIENT_TEXT_FIELDS.items():
        if key in data and data[key] is not None:
            setattr(client, key, _text(data[key], key, n, errors, required=False))
    if data.get("phone"):
        client.phone = str(data["phone"]).strip()[:20]
    _raise(errors)
    after = audit.snapshot(client)
    if after == before:
        return client
    client.save()
    audit.record(actor, "clinical.client.updated", client, before=before, after=after)
    return client


@transaction.atomic
def grant_privacy_consent(
    actor: Actor,
    client_id: int,
    *,
    purpose: str,
    scope: Iterable[str],
    retention_years: int,
    notice_version: str,
    at: dt.datetime | None = None,
) -> PrivacyConsent:
    client = _client_for_update(actor, client_id)
    errors: dict[str, list[str]] = {}
    purpose = _text(purpose, "purpose", 1000, errors)
    notice_version = _text(notice_version, "notice_version", 32, errors)
    scopes = sorted(set(scope))
    if not scopes:
        errors["scope"] = [_("请至少选择一类信息")]
    elif set(scopes) - set(PrivacyScope.values):
        errors["scope"] = [_("取值无效,可选值:%(choices)s") % {"choices": ", ".join(PrivacyScope.values)}]
    if not 1 <= retention_years <= 100:
        errors["retention_years"] = [_("保存期限应为1–100年")]
    _raise(errors)
    consent = PrivacyConsent.objects.create(
        client=client,
        purpose=purpose,
        scope=scopes,
        retention_years=retention_years,
        notice_version=notice_version,
        granted_at=_now(at),
        recorded_by_id=actor.user_id,
    )
    audit.record(actor, "clinical.privacyconsent.granted", consent, before={})
    return consent


@transaction.atomic
def withdraw_privacy_consent(actor: Actor, consent_id: int, *, reason: str) -> PrivacyConsent:
    consent = PrivacyConsent.objects.writable_by(actor).select_for_update().filter(pk=consent_id).first()
    if consent is None:
        raise NotFoundField("consent_id")
    if consent.withdrawn_at is not None:
        raise ActionError("ALREADY_WITHDRAWN", _("该同意已撤回"), status=409)
    errors: dict[str, list[str]] = {}
    reason = _text(reason, "reason", 1000, errors)
    _raise(errors)
    before = audit.snapshot(consent)
    consent.withdrawn_at = timezone.now()
    consent.withdrawal_reason = reason
    consent.save(update_fields=["withdrawn_at", "withdrawal_reason"])
    audit.record(actor, "clinical.privacyconsent.withdrawn", consent, before=before, reason=reason)
    return consent


def has_health_consent(client_id: int) -> bool:
    return any(
        PrivacyScope.HEALTH in c.scope
        for c in PrivacyConsent.objects.filter(client_id=client_id, withdrawn_at__isnull=True)
    )


# ---- case ---------------------------------------------------------------------------------------


def _practitioner(
    inst: Institution, pk: int | None, field: str, professions: Iterable[str]
) -> Practitioner | None:
    if pk is None:
        return None
    person = (
        Practitioner.objects.filter(pk=pk)
        .filter(Q(main_institution_id=inst.pk) | Q(sites__institution_id=inst.pk))
        .first()
    )
    if person is None:
        raise NotFoundField(field)
    if person.profession not in set(professions):
        raise FieldErrors({field: [_("该人员的职业不符合此角色")]})
    return person


@transaction.atomic
def create_case(
    actor: Actor,
    *,
    client_id: int,
    procedure_code: str,
    operator_id: int,
    anesthetist_id: int | None = None,
    nurse_id: int | None = None,
    anesthesia: str | None = None,
    scheduled_at: dt.datetime | None = None,
) -> Case:
    client = _client_for_update(actor, client_id)
    inst = client.institution
    if not has_health_consent(client.pk):
        raise ActionError(
            "PRIVACY_CONSENT_MISSING", str(policy.REASONS["PRIVACY_CONSENT_MISSING"].message), status=409
        )
    proc = _procedure(inst, procedure_code)
    operator = _practitioner(inst, operator_id, "operator_id", (Profession.DOCTOR,))
    anesthetist = _practitioner(
        inst, anesthetist_id, "anesthetist_id", (Profession.ANESTHETIST, Profession.DOCTOR)
    )
    nurse = _practitioner(inst, nurse_id, "nurse_id", (Profession.NURSE,))
    surgical = proc.invasiveness == "surgical"
    chosen = anesthesia if anesthesia is not None else (proc.anesthesia_max or "" if surgical else "")
    if anesthetist and operator and anesthetist.pk == operator.pk:
        raise FieldErrors({"anesthetist_id": [_("麻醉医师与主诊医师须为不同的人")]})
    if scheduled_at is not None and timezone.is_naive(scheduled_at):
        raise FieldErrors({"scheduled_at": [_("计划时间须带时区,例如 2026-03-03T09:30:00+08:00")]})
    if scheduled_at is not None and scheduled_at < timezone.now() - dt.timedelta(days=1):
        raise FieldErrors({"scheduled_at": [_("计划时间不能早于昨天")]})
    assert operator is not None
    case = Case.objects.create(
        institution=inst,
        client=client,
        code="C" + uuid.uuid4().hex[:12].upper(),
        procedure_code=proc.code,
        procedure_name=proc.name_zh,
        grade=proc.grade,
        invasiveness=proc.invasiveness,
        anesthesia=chosen,
        operator=operator,
        anesthetist=anesthetist,
        nurse=nurse,
        scheduled_at=scheduled_at,
        created_by_id=actor.user_id,
    )
    audit.record(actor, "clinical.case.created", case, before={})
    return case


@transaction.atomic
def cancel_case(actor: Actor, case_id: int, *, reason: str) -> Case:
    case = _case_for_update(actor, case_id)
    _require_open(case)
    errors: dict[str, list[str]] = {}
    reason = _text(reason, "reason", 1000, errors)
    _raise(errors)
    before = audit.snapshot(case)
    case.status = CaseStatus.CANCELLED
    case.save(update_fields=["status", "updated_at"])
    audit.record(actor, "clinical.case.cancelled", case, before=before, reason=reason)
    return case


# ---- consultation -------------------------------------------------------------------------------


@transaction.atomic
def save_consultation(
    actor: Actor, case_id: int, *, needs: str, findings: str = "", procedure_codes: Iterable[str]
) -> Consultation:
    """Anyone on the clinical staff (a consultant too) may prepare it; a doctor signs it."""
    case = _case_for_update(actor, case_id)
    _require_open(case)
    consultation = Consultation.objects.filter(case=case).first()
    if consultation is not None and consultation.status == SignStatus.SIGNED:
        raise ActionError("ALREADY_SIGNED", _("面诊记录已签名,不能修改"), status=409)
    errors: dict[str, list[str]] = {}
    needs = _text(needs, "needs", 4000, errors)
    findings = _text(findings, "findings", 4000, errors, required=False)
    codes = list(dict.fromkeys(procedure_codes))
    if not codes:
        errors["procedure_codes"] = [_("请至少提出一个项目")]
    if case.procedure_code not in codes:
        codes.insert(0, case.procedure_code)
    pack = resolve(case.institution.province, timezone.localdate(), case.institution_id)
    prices = dict(
        ProcedurePrice.objects.filter(
            institution_id=case.institution_id, procedure_code__in=codes
        ).values_list("procedure_code", "price")
    )
    for i, code in enumerate(codes):
        if code not in pack.procedures:
            errors.setdefault(f"procedure_codes[{i}]", []).append(_("项目不在规则包目录中"))
        elif code not in prices:
            errors.setdefault(f"procedure_codes[{i}]", []).append(_("本机构尚未公示该项目的价格(明码标价)"))
    _raise(errors)
    before = audit.snapshot(consultation) if consultation else {}
    if consultation is None:
        consultation = Consultation(case=case, prepared_by_id=actor.user_id)
    consultation.needs = needs
    consultation.findings = findings
    consultation.save()
    ConsultationItem.objects.filter(consultation=consultation).delete()
    ConsultationItem.objects.bulk_create(
        [
            ConsultationItem(
                consultation=consultation,
                procedure_code=code,
                procedure_name=pack.procedures[code].name_zh,
                price=prices[code],
            )
            for code in codes
        ]
    )
    audit.record(
        actor,
        "clinical.consultation.saved",
        consultation,
        before=before,
        after={**audit.snapshot(consultation), "items": [[c, str(prices[c])] for c in codes]},
    )
    return consultation


@transaction.atomic
def sign_consultation(actor: Actor, case_id: int) -> Consultation:
    case = _case_for_update(actor, case_id)
    _require_open(case)
    consultation = Consultation.objects.filter(case=case).first()
    if consultation is None:
        raise ActionError("CONSULTATION_MISSING", _("请先填写面诊记录"), status=409)
    if consultation.status == SignStatus.SIGNED:
        raise ActionError("ALREADY_SIGNED", _("面诊记录已签名"), status=409)
    doctor = signer(actor, case.institution_id)
    if doctor.profession != Profession.DOCTOR:
        raise ActionError("DOCTOR_REQUIRED", _("面诊须由医师签名,咨询师不能代替医师面诊"), status=403)
    before = audit.snapshot(consultation)
    consultation.doctor = doctor
    consultation.status = SignStatus.SIGNED
    consultation.signed_at = timezone.now()
    consultation.save()
    audit.record(actor, "clinical.consultation.signed", consultation, before=before)
    return consultation


# ---- informed consent ---------------------------------------------------------------------------


@transaction.atomic
def create_consent_template(
    actor: Actor,
    *,
    institution_id: int,
    procedure_code: str,
    title: str,
    body: str,
    risks: str,
    alternatives: str,
) -> ConsentTemplate:
    inst = _institution(actor, institution_id, CLINICAL_ADMINS)
    _procedure(inst, procedure_code)
    errors: dict[str, list[str]] = {}
    title = _text(title, "title", 128, errors)
    body = _text(body, "body", 20000, errors)
    risks = _text(risks, "risks", 20000, errors)
    alternatives = _text(alternatives, "alternatives", 10000, errors)
    _raise(errors)
    Institution.objects.select_for_update().filter(pk=inst.pk).first()  # one new version at a time
    last = ConsentTemplate.objects.filter(institution=inst, procedure_code=procedure_code).aggregate(
        n=Max("version")
    )["n"]
    tpl = ConsentTemplate(
        institution=inst,
        procedure_code=procedure_code,
        version=(last or 0) + 1,
        title=title,
        body=body,
        risks=risks,
        alternatives=alternatives,
        created_by_id=actor.user_id,
    )
    tpl.content_hash = tpl.compute_hash()
    tpl.save(force_insert=True)
    audit.record(actor, "clinical.consenttemplate.created", tpl, before={})
    return tpl


def current_template(institution_id: int, procedure_code: str) -> ConsentTemplate | None:
    return (
        ConsentTemplate.objects.filter(institution_id=institution_id, procedure_code=procedure_code)
        .order_by("-version")
        .first()
    )


def _signature_png(data_url: str) -> bytes:
    prefix = "data:image/png;base64,"
    if not data_url.startswith(prefix):
        raise FieldErrors({"signature_image": [_("签名应为 PNG 图片(data:image/png;base64,…)")]})
    try:
        raw = base64.b64decode(data_url[len(prefix) :], validate=True)
    except (binascii.Error, ValueError):
        raise FieldErrors({"signature_image": [_("签名图片编码无效")]}) from None
    if not raw.startswith(PNG_MAGIC):
        raise FieldErrors({"signature_image": [_("签名应为 PNG 图片(data:image/png;base64,…)")]})
    if len(raw) > MAX_SIGNATURE_BYTES:
        raise FieldErrors({"signature_image": [_("签名图片不能超过 200 KB")]})
    return raw


def _age(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@transaction.atomic
def sign_consent(
    actor: Actor,
    case_id: int,
    *,
    template_id: int,
    content_hash: str,
    decision: str,
    signer_name: str,
    signer_relation: str = SignerRelation.SELF,
    signature_image: str = "",
    at: dt.datetime | None = None,
) -> ConsentSignature:
    """The client signs (or refuses) the version shown on the tablet: the hash the tablet displayed must be the
    template's, so what was signed is exactly what is stored."""
    case = _case_for_update(actor, case_id)
    _require_open(case)
    tpl = ConsentTemplate.objects.filter(
        pk=template_id, institution_id=case.institution_id, procedure_code=case.procedure_code
    ).first()
    if tpl is None:
        raise NotFoundField("template_id")
    latest = current_template(case.institution_id, case.procedure_code)
    if latest is not None and latest.pk != tpl.pk:
        raise ActionError(
            "TEMPLATE_OUTDATED", _("该模板已有新版本,请重新展示最新版本"), field="template_id", status=409
        )
    if content_hash != tpl.content_hash:
        raise ActionError(
            "CONTENT_MISMATCH", _("签署内容与模板不一致,请重新展示"), field="content_hash", status=409
        )
    errors: dict[str, list[str]] = {}
    signer_name = _text(signer_name, "signer_name", 64, errors)
    _raise(errors)
    signed_at = _now(at)
    if (
        signer_relation == SignerRelation.SELF
        and _age(case.client.date_of_birth, timezone.localdate(signed_at)) < ADULT_AGE
    ):
        raise FieldErrors({"signer_relation": [_("求美者未满18周岁,须由监护人签署")]})
    sig_hash = ""
    if decision == ConsentDecision.SIGNED:
        png = _signature_png(signature_image)
        sig_hash = hashlib.sha256(png).hexdigest()
        if ConsentSignature.objects.filter(
            case=case, decision=ConsentDecision.SIGNED, withdrawn_at__isnull=True
        ).exists():
            raise ActionError("ALREADY_SIGNED", _("本病例已有有效的知情同意签署"), status=409)
    elif decision != ConsentDecision.REFUSED:
        raise FieldErrors({"decision": [_("取值无效,可选值:%(choices)s") % {"choices": "signed, refused"}]})
    sig = ConsentSignature(
        case=case,
        template=tpl,
        template_version=tpl.version,
        content_hash=tpl.content_hash,
        decision=decision,
        signer_name=signer_name,
        signer_relation=signer_relation,
        signature_image=signature_image if decision == ConsentDecision.SIGNED else "",
        signature_hash=sig_hash,
        signed_at=signed_at,
        recorded_by_id=actor.user_id,
    )
    try:
        with transaction.atomic():
            sig.save(force_insert=True)
    except IntegrityError:
        raise ActionError("ALREADY_SIGNED", _("本病例已有有效的知情同意签署"), status=409) from None
    code = (
        "clinical.consentsignature.signed"
        if decision == ConsentDecision.SIGNED
        else "clinical.consentsignature.refused"
    )
    after = audit.snapshot(sig)
    after.pop("signature_image", None)  # the hash stands for the image in the audit trail
    audit.record(actor, code, sig, before={}, after=after)
    return sig


@transaction.atomic
def withdraw_consent(actor: Actor, case_id: int, *, reason: str) -> ConsentSignature:
    case = _case_for_update(actor, case_id)
    sig = ConsentSignature.objects.filter(
        case=case, decision=ConsentDecision.SIGNED, withdrawn_at__isnull=True
    ).first()
    if sig is None:
        raise ActionError("NO_ACTIVE_CONSENT", _("本病例没有可撤回的知情同意"), status=409)
    errors: dict[str, list[str]] = {}
    reason = _text(reason, "reason", 1000, errors)
    _raise(errors)
    sig.withdrawn_at = timezone.now()
    sig.withdrawal_reason = reason
    sig.save(update_fields=["withdrawn_at", "withdrawal_reason"])
    audit.record(
        actor,
        "clinical.consentsignature.withdrawn",
        sig,
        changes={"withdrawn_at": [None, sig.withdrawn_at]},
        reason=reason,
    )
    return sig


# ---- pre-operative assessment -------------------------------------------------------------------

_ANSWER_MESSAGES = {
    "missing": lambda: _("此字段为必填项"),
    "invalid_option": lambda: _("选项无效"),
    "unknown_item": lambda: _("不允许的字段"),
}


@transaction.atomic
def save_assessment(
    actor: Actor, case_id: int, *, answers: Mapping[str, str], asa_class: int | None = None
) -> Assessment:
    case = _case_for_update(actor, case_id)
    _require_open(case)
    existing = Assessment.objects.filter(case=case).first()
    if existing is not None and (existing.chief_signed_by_id or existing.anesthetist_signed_by_id):
        raise ActionError("ALREADY_SIGNED", _("术前评估已签名,不能修改"), status=409)
    limits, version, _two = thresholds(case.institution_id)
    scored = policy.score(answers, asa_class, needs_asa=case.needs_anesthetist, limits=limits)
    if scored.errors:
        raise FieldErrors({f: [str(_ANSWER_MESSAGES[m]())] for f, m in scored.errors.items()})
    before = audit.snapshot(existing) if existing else {}
    obj = existing or Assessment(case=case, created_by_id=actor.user_id)
    obj.form_version = str(policy.assessment_form()["version"])
    obj.answers = dict(answers)
    obj.asa_class = asa_class if case.needs_anesthetist else None
    obj.score = scored.score
    obj.risk_level = scored.risk_level
    obj.passed = scored.passed
    obj.findings = list(scored.findings)
    obj.policy_version = version
    obj.save()
    audit.record(actor, "clinical.assessment.saved", obj, before=before)
    return obj


def _chief_problem(code: str) -> bool:
    # The chief's own qualification: not the anaesthetist's, nor devices/products recorded later.
    return not code.startswith("ANESTHE") and code not in ("DEVICE_REQUIRED",)


@transaction.atomic
def sign_assessment(actor: Actor, case_id: int, *, role: str) -> Assessment:
    """主诊 (``chief``) or anaesthetist (``anesthetist``) signs; two different people, each qualified at that
    moment according to the engine (the decision-log row is kept with the signature)."""
    case = _case_for_update(actor, case_id)
    _require_open(case)
    obj = Assessment.objects.select_for_update().filter(case=case).first()
    if obj is None:
        raise ActionError("ASSESSMENT_MISSING", str(policy.REASONS["ASSESSMENT_MISSING"].message), status=409)
    person = signer(actor, case.institution_id)
    before = audit.snapshot(obj)
    now = timezone.now()
    if role == "chief":
        if obj.chief_signed_by_id:
            raise ActionError("ALREADY_SIGNED", _("主诊医师已签名"), status=409)
        if person.profession != Profession.DOCTOR:
            raise ActionError("DOCTOR_REQUIRED", _("主诊医师签名须由医师完成"), status=403)
        if obj.anesthetist_signed_by_id == person.pk:
            raise ActionError("SAME_SIGNER", _("主诊医师与麻醉医师须为不同的人"), status=409)
        checked = _engine(actor, case, practitioner_id=person.pk)
        problems = _denials(checked, _chief_problem)
        if problems:
            raise ActionError(
                "SIGNER_NOT_QUALIFIED",
                _("签名人此刻不具备本项目的执业资格"),
                status=403,
                details=problems,
            )
        obj.chief_signed_by = person
        obj.chief_signed_at = now
        obj.chief_decision = checked.log
    elif role == "anesthetist":
        if not case.needs_anesthetist:
            raise ActionError("ANESTHETIST_NOT_NEEDED", _("本项目为局部麻醉,无需麻醉医师签名"), status=409)
        if obj.anesthetist_signed_by_id:
            raise ActionError("ALREADY_SIGNED", _("麻醉医师已签名"), status=409)
        if person.pk in (obj.chief_signed_by_id, case.operator_id):
            raise ActionError("SAME_SIGNER", _("主诊医师与麻醉医师须为不同的人"), status=409)
        checked = _engine(actor, case, anesthetist_id=person.pk)
        problems = _denials(checked, lambda code: code.startswith("ANESTHE"))
        if problems:
            raise ActionError(
                "SIGNER_NOT_QUALIFIED",
                _("签名人此刻不具备麻醉医师资格"),
                status=403,
                details=problems,
            )
        obj.anesthetist_signed_by = person
        obj.anesthetist_signed_at = now
        obj.anesthetist_decision = checked.log
    else:
        raise FieldErrors({"role": [_("取值无效,可选值:%(choices)s") % {"choices": "chief, anesthetist"}]})
    obj.save()
    audit.record(actor, "clinical.assessment.signed", obj, before=before)
    return obj


# ---- graded review ------------------------------------------------------------------------------


def _warnings(case: Case, assessment: Assessment) -> list[str]:
    out = [f"assessment:{item}" for item in assessment.findings]
    if case.is_surgical and case.grade is not None and case.grade >= policy.HIGH_RISK_GRADE:
        out.append(f"grade:{case.grade}")
    if case.needs_anesthetist:
        out.append(f"anesthesia:{case.anesthesia}")
    return out


@transaction.atomic
def open_review(actor: Actor, case_id: int) -> Review:
    case = _case_for_update(actor, case_id)
    _require_open(case)
    if Review.objects.filter(case=case).exists():
        raise ActionError("REVIEW_EXISTS", _("分级评估已开启"), status=409)
    assessment = Assessment.objects.filter(case=case).first()
    if assessment is None:
        raise ActionError("ASSESSMENT_MISSING", str(policy.REASONS["ASSESSMENT_MISSING"].message), status=409)
    if not assessment.passed:
        raise ActionError("ASSESSMENT_FAILED", str(policy.REASONS["ASSESSMENT_FAILED"].message), status=409)
    kind = policy.review_kind(case.grade, case.is_surgical, assessment.risk_level)
    committee = None
    required = 0
    if kind == ReviewKind.COMMITTEE:
        committee = ExpertCommittee.objects.filter(institution_id=case.institution_id, is_active=True).first()
        if committee is None:
            raise ActionError(
                "COMMITTEE_MISSING",
                _("高风险病例须由医疗质量与安全管理委员会审核,但本机构尚未设立委员会"),
                status=409,
            )
        required = committee.quorum
    review = Review.objects.create(
        case=case,
        kind=kind,
        risk_level=assessment.risk_level,
        warnings=_warnings(case, assessment),
        committee=committee,
        required_approvals=required,
    )
    audit.record(actor, "clinical.review.opened", review, before={})
    return review


def _review_for_update(case: Case) -> Review:
    review = Review.objects.select_for_update().filter(case=case).first()
    if review is None:
        raise ActionError("REVIEW_MISSING", str(policy.REASONS["REVIEW_MISSING"].message), status=409)
    if review.status != ReviewStatus.PENDING:
        raise ActionError("ALREADY_DECIDED", _("分级评估已完成"), status=409)
    return review


@transaction.atomic
def record_discussion(actor: Actor, case_id: int, *, department: str, discussion: str) -> Review:
    case = _case_for_update(actor, case_id)
    review = _review_for_update(case)
    errors: dict[str, list[str]] = {}
    department = _text(department, "department", 64, errors)
    discussion = _text(discussion, "discussion", 10000, errors)
    _raise(errors)
    before = audit.snapshot(review)
    review.department = department
    review.discussion = discussion
    review.discussed_at = timezone.now()
    review.save()
    audit.record(actor, "clinical.review.discussed", review, before=before)
    return review


def _decide(actor: Actor, review: Review, status: str) -> None:
    before = audit.snapshot(review)
    done = Review.objects.filter(pk=review.pk, status=ReviewStatus.PENDING).update(
        status=status, decided_at=timezone.now()
    )
    if done != 1:
        raise ActionError("ALREADY_DECIDED", _("分级评估已完成"), status=409)
    review.refresh_from_db()
    audit.record(actor, "clinical.review.decided", review, before=before)


@transaction.atomic
def confirm_review(actor: Actor, case_id: int, *, role: str) -> Review:
    """Medium and low risk: the 主诊 and a nurse confirm, having seen the automatic warnings."""
    case = _case_for_update(actor, case_id)
    review = _review_for_update(case)
    if review.kind != ReviewKind.CONFIRMATION:
        raise ActionError("COMMITTEE_REVIEW", _("高风险病例须经委员会审核"), status=409)
    person = signer(actor, case.institution_id)
    before = audit.snapshot(review)
    if role == "chief":
        if person.profession != Profession.DOCTOR:
            raise ActionError("DOCTOR_REQUIRED", _("须由主诊医师确认"), status=403)
        if review.chief_confirmed_by_id:
            raise ActionError("ALREADY_SIGNED", _("主诊医师已确认"), status=409)
        review.chief_confirmed_by = person
    elif role == "nurse":
        if person.profession != Profession.NURSE:
            raise ActionError("NURSE_REQUIRED", _("须由护士确认"), status=403)
        if review.nurse_confirmed_by_id:
            raise ActionError("ALREADY_SIGNED", _("护士已确认"), status=409)
        review.nurse_confirmed_by = person
    else:
        raise FieldErrors({"role": [_("取值无效,可选值:%(choices)s") % {"choices": "chief, nurse"}]})
    review.save()
    audit.record(actor, "clinical.review.confirmed", review, before=before)
    if review.chief_confirmed_by_id and review.nurse_confirmed_by_id:
        _decide(actor, review, ReviewStatus.APPROVED)
    return review


@transaction.atomic
def vote_review(actor: Actor, case_id: int, *, verdict: str, comment: str = "") -> Review:
    """High risk: a committee member's vote; N approvals (the committee's quorum) approve, one rejection
    rejects. The institution's expert committee (workflow) serves as 医疗质量与安全管理委员会."""
    case = _case_for_update(actor, case_id)
    review = _review_for_update(case)
    if review.kind != ReviewKind.COMMITTEE or review.committee_id is None:
        raise ActionError("NOT_COMMITTEE_REVIEW", _("本病例由主诊医师与护士确认,无需委员会审核"), status=409)
    if not review.discussed_at:
        raise ActionError("DISCUSSION_MISSING", _("请先记录科室病例讨论"), status=409)
    if (
        actor.user_id is None
        or review.committee is None
        or not review.committee.members.filter(pk=actor.user_id, is_active=True).exists()
    ):
        raise ActionError("NOT_A_MEMBER", _("您不是本机构医疗质量与安全管理委员会委员"), status=403)
    if verdict not in Verdict.values:
        raise FieldErrors({"verdict": [_("取值无效,可选值:%(choices)s") % {"choices": "approve, reject"}]})
    errors: dict[str, list[str]] = {}
    comment = _text(comment, "comment", 2000, errors, required=verdict == Verdict.REJECT)
    _raise(errors)
    try:
        with transaction.atomic():
            vote = ReviewVote.objects.create(
                review=review, user_id=actor.user_id, verdict=verdict, comment=comment
            )
    except IntegrityError:
        raise ActionError("ALREADY_VOTED", _("您已投票"), status=409) from None
    audit.record(actor, "clinical.review.voted", vote, before={}, reason=comment)
    approvals = ReviewVote.objects.filter(review=review, verdict=Verdict.APPROVE).count()
    if verdict == Verdict.REJECT:
        _decide(actor, review, ReviewStatus.REJECTED)
    elif approvals >= review.required_approvals:
        _decide(actor, review, ReviewStatus.APPROVED)
    return review


# ---- surgical safety checklist ------------------------------------------------------------------


@transaction.atomic
def sign_checklist_node(
    actor: Actor,
    case_id: int,
    *,
    node: str,
    party: str,
    items: Mapping[str, bool],
    scanned: Iterable[str] = (),
) -> ChecklistNode:
    """One party signs one node (SP-01). Every item of the node must be confirmed; the first signature of a node
    needs the case barcode (wristband) scanned. The node completes when every required party has signed."""
    case = _case_for_update(actor, case_id)
    if node not in policy.NODES:
        raise FieldErrors({"node": [_("取值无效,可选值:%(choices)s") % {"choices": ", ".join(policy.NODES)}]})
    if party not in ChecklistParty.values:
        raise FieldErrors(
            {"party": [_("取值无效,可选值:%(choices)s") % {"choices": ", ".join(ChecklistParty.values)}]}
        )
    index = policy.NODES.index(node)
    if index == 0:
        _require_open(case)  # node 1 comes before the gate opens the record
    elif case.status != CaseStatus.IN_OPERATION:
        raise ActionError(
            "RECORD_NOT_OPEN", _("手术开始前和离室前核查须在治疗/手术记录开启后进行"), status=409
        )
    if index > 0:
        prev = ChecklistNode.objects.filter(case=case, node=policy.NODES[index - 1]).first()
        if prev is None or not prev.is_complete:
            raise ActionError("PREVIOUS_NODE_INCOMPLETE", _("上一核查节点尚未完成"), field="node", status=409)
    _lim, _ver, two_party = thresholds(case.institution_id)
    required = list(policy.checklist_parties(case.anesthesia, two_party_under_local=two_party))
    if party not in required:
        raise ActionError("PARTY_NOT_REQUIRED", _("本病例的核查不需要该方签名"), field="party", status=409)
    person = signer(actor, case.institution_id)
    if party == ChecklistParty.SURGEON and person.pk != case.operator_id:
        raise ActionError("WRONG_SIGNER", _("手术医师签名须由本病例的主诊/手术医师完成"), status=403)
    if party == ChecklistParty.ANESTHETIST and person.pk != case.anesthetist_id:
        raise ActionError("WRONG_SIGNER", _("麻醉医师签名须由本病例的麻醉医师完成"), status=403)
    if party == ChecklistParty.NURSE and person.profession != Profession.NURSE:
        raise ActionError("WRONG_SIGNER", _("手术室护士签名须由护士完成"), status=403)
    wanted = policy.node_item_ids(node)
    unknown = sorted(set(items) - set(wanted))
    if unknown:
        raise FieldErrors({f"items.{k}": [_("不允许的字段")] for k in unknown})
    row, created = ChecklistNode.objects.get_or_create(
        case=case, node=node, defaults={"required_parties": required}
    )
    if row.is_complete:
        raise ActionError("ALREADY_SIGNED", _("该核查节点已完成"), status=409)
    if getattr(row, f"{party}_id"):
        raise ActionError("ALREADY_SIGNED", _("该方已在此节点签名"), field="party", status=409)
    merged = {**row.items, **{k: bool(val) for k, val in items.items()}}
    missing = [k for k in wanted if not merged.get(k)]
    if missing:
        raise FieldErrors({f"items.{k}": [_("该核查项须确认")] for k in missing})
    codes = [str(c).strip()[:128] for c in scanned if str(c).strip()]
    if not row.scanned and case.code not in codes:
        raise FieldErrors({"scanned": [_("请扫描求美者腕带或病例条码以核对身份")]})
    before = audit.snapshot(row) if not created else {}
    now = timezone.now()
    row.items = merged
    row.scanned = list(dict.fromkeys([*row.scanned, *codes]))
    setattr(row, party, person)
    setattr(row, f"{party}_signed_at", now)
    if all(getattr(row, f"{p}_id") for p in row.required_parties):
        row.completed_at = now
    row.save()
    audit.record(actor, "clinical.checklistnode.signed", row, before=before)
    if row.completed_at:
        audit.record(actor, "clinical.checklistnode.completed", row, changes={"completed_at": [None, now]})
    return row


# ---- the gate and the record --------------------------------------------------------------------


def gate_facts(case: Case, *, engine_allowed: bool) -> policy.GateFacts:
    """Read every condition of the gate in a fixed number of queries (one per step table)."""
    consultation_signed = Consultation.objects.filter(case=case, status=SignStatus.SIGNED).exists()
    latest = (
        ConsentSignature.objects.filter(case=case, withdrawn_at__isnull=True)
        .values_list("decision", "template_id")
        .order_by("-signed_at", "-pk")
        .first()
    )
    consent = ""
    if latest is not None:
        decision, tpl_id = latest
        if decision == ConsentDecision.REFUSED:
            consent = "refused"
        else:
            current = (
                ConsentTemplate.objects.filter(
                    institution_id=case.institution_id, procedure_code=case.procedure_code
                )
                .order_by("-version")
                .values_list("pk", flat=True)
                .first()
            )
            consent = "signed" if current == tpl_id else "outdated"
    a = (
        Assessment.objects.filter(case=case)
        .values_list("passed", "chief_signed_by_id", "anesthetist_signed_by_id")
        .first()
    )
    review_status = Review.objects.filter(case=case).values_list("status", flat=True).first() or ""
    node1 = ChecklistNode.objects.filter(case=case, node=policy.NODES[0], completed_at__isnull=False).exists()
    return policy.GateFacts(
        case_status=case.status,
        surgical=case.is_surgical,
        needs_anesthetist=case.needs_anesthetist,
        privacy_consent_active=has_health_consent(case.client_id),
        consultation_signed=consultation_signed,
        consent=consent,
        assessment_exists=a is not None,
        assessment_passed=bool(a and a[0]),
        chief_signed=bool(a and a[1]),
        anesthetist_signed=bool(a and a[2]),
        review_status=review_status,
        node1_complete=node1,
        record_exists=OperationRecord.objects.filter(case=case).exists(),
        engine_allowed=engine_allowed,
    )


class GateRefused(ActionError):
    def __init__(self, details: list[dict[str, str]], decision_id: int | None):
        super().__init__(
            "GATE_REFUSED",
            _("不能开始治疗/手术:%(n)s 项条件未满足") % {"n": len(details)},
            field="case_id",
            status=409,
            details=details,
        )
        self.decision_id = decision_id


def open_record(
    actor: Actor, case_id: int, *, device_ids: tuple[int, ...] = (), at: dt.datetime | None = None
) -> OperationRecord:
    """The gate. At this moment: the engine allows (its decision is stored with the record), the consent is
    signed, the assessment passed and is signed, the required review is approved, and — for surgery —
    checklist node 1 is complete. Every missing condition is a reason; a refusal is audited and its engine
    decision stays in the decision log."""
    with transaction.atomic():
        case = _case_for_update(actor, case_id)
        checked = _engine(actor, case, device_ids=device_ids, at=at)
        facts = gate_facts(case, engine_allowed=checked.decision.allowed)
        codes = list(policy.gate_reasons(facts))
        if not codes:
            now = _now(at)
            record = OperationRecord.objects.create(
                case=case,
                decision=checked.log,
                operator_id=case.operator_id,
                opened_at=now,
                opened_by_id=actor.user_id,
            )
            Case.objects.filter(pk=case.pk).update(status=CaseStatus.IN_OPERATION, updated_at=now)
            audit.record(actor, "clinical.operationrecord.opened", record, before={})
            return record
    details = [policy.reason_detail(c) for c in codes]
    if "ENGINE_DENIED" in codes:
        details += _denials(checked)
    with transaction.atomic():
        audit.record(
            actor,
            "clinical.operationrecord.refused",
            case,
            changes={"reasons": codes, "decision": checked.log.pk},
        )
    raise GateRefused(details, checked.log.pk)


def _record_for_update(actor: Actor, case_id: int) -> tuple[Case, OperationRecord]:
    case = _case_for_update(actor, case_id)
    record = OperationRecord.objects.select_for_update().filter(case=case).first()
    if record is None or record.status != RecordStatus.OPEN:
        raise ActionError("RECORD_NOT_OPEN", _("治疗/手术记录未开启或已结束"), status=409)
    return case, record


def _resolve_code(actor: Actor, case: Case, code: str) -> tuple[int | None, int | None, str]:
    """A scanned GS1 code → (lot id, device id, unit serial) at the case's institution."""
    scanned = parse_gs1(code, field="code")
    if scanned.lot:
        lot_id = (
            Lot.objects.visible_to(actor)
            .filter(institution_id=case.institution_id, product__udi_di=scanned.gtin, lot_no=scanned.lot)
            .values_list("pk", flat=True)
            .first()
        )
        if lot_id is None:
            raise NotFoundField("code")
        return lot_id, None, scanned.serial
    if scanned.serial:
        device_id = (
            Device.objects.visible_to(actor)
            .filter(institution_id=case.institution_id, udi_di=scanned.gtin, serial_no=scanned.serial)
            .values_list("pk", flat=True)
            .first()
        )
        if device_id is None:
            raise NotFoundField("code")
        return None, device_id, ""
    raise FieldErrors({"code": [_("UDI 中没有批号 (10) 或序列号 (21),无法确定批次或设备")]})


def add_usage(
    actor: Actor,
    case_id: int,
    *,
    usage_key: str,
    code: str = "",
    lot_id: int | None = None,
    device_id: int | None = None,
    dose_value: Decimal | None = None,
    dose_unit: str = "",
    site: str = "",
    minutes: int | None = None,
    at: dt.datetime | None = None,
) -> Usage:
    """Record one product or device used. The engine is re-run with everything actually given so far plus this
    one, so the institution's dose and duration limits apply to what was really given; a refusal is audited
    (its decision stays in the log) and nothing is recorded. The same ``usage_key`` twice records once.

    A 20-digit drug trace code (DD-06) resolves through the unit received into stock (``inventory``): the unit
    is marked used and its issue movement written in the same transaction. A code used before, or never
    received at this institution, is refused and raises a counterfeit/diversion alert (kept, notified)."""
    try:
        return _add_usage(
            actor,
            case_id,
            usage_key=usage_key,
            code=code,
            lot_id=lot_id,
            device_id=device_id,
            dose_value=dose_value,
            dose_unit=dose_unit,
            site=site,
            minutes=minutes,
            at=at,
        )
    except stock.TraceCodeDenied as denied:
        stock.raise_alert(actor, denied, case_id=case_id)
        raise


def _add_usage(
    actor: Actor,
    case_id: int,
    *,
    usage_key: str,
    code: str,
    lot_id: int | None,
    device_id: int | None,
    dose_value: Decimal | None,
    dose_unit: str,
    site: str,
    minutes: int | None,
    at: dt.datetime | None,
) -> Usage:
    usage_key = (usage_key or "").strip()
    if not usage_key or len(usage_key) > 64:
        raise FieldErrors({"usage_key": [_("请提供 1–64 位的录入标识(每次扫码唯一)")]})
    with transaction.atomic():
        case, record = _record_for_update(actor, case_id)
        existing = Usage.objects.filter(record=record, usage_key=usage_key).first()
        if existing is not None:
            return existing  # a retry or a second device sending the same scan: recorded once
        serial = ""
        trace = None
        if code and stock.is_trace_code(code):
            trace = stock.take_trace_code(case.institution_id, code, case_id=case.pk)
            lot_id, device_id = trace.lot_id, None
        elif code:
            lot_id, device_id, serial = _resolve_code(actor, case, code)
        if (lot_id is None) == (device_id is None):
            raise FieldErrors({"code": [_("请扫描一个产品批次或设备条码(或填写 lot_id / device_id 之一)")]})
        if (
            lot_id is not None
            and not Lot.objects.visible_to(actor)
            .filter(pk=lot_id, institution_id=case.institution_id)
            .exists()
        ):
            raise NotFoundField("lot_id")
        if (
            device_id is not None
            and not Device.objects.visible_to(actor)
            .filter(pk=device_id, institution_id=case.institution_id)
            .exists()
        ):
            raise NotFoundField("device_id")
        if serial and lot_id and Usage.objects.filter(lot_id=lot_id, unit_serial=serial).exists():
            raise ActionError(
                "UNIT_ALREADY_USED", _("该最小包装(序列号)已使用过,不能重复使用"), field="code", status=409
            )
        if lot_id is not None and dose_value is None:
            raise FieldErrors({"dose_value": [_("请填写实际剂量")]})
        errors: dict[str, list[str]] = {}
        site = _text(site, "site", 64, errors, required=False)
        _raise(errors)
        previous = list(
            Usage.objects.filter(record=record).values_list(
                "lot_id", "dose_value", "dose_unit", "minutes", "device_id"
            )
        )
        products = tuple(
            ProductUse(lot, dose, unit or None, mins)
            for lot, dose, unit, mins, _dev in previous
            if lot is not None
        )
        devices = tuple(dict.fromkeys(dev for *_rest, dev in previous if dev is not None))
        if lot_id is not None:
            products += (ProductUse(lot_id, dose_value, dose_unit or None, minutes),)
        if device_id is not None and device_id not in devices:
            devices += (device_id,)
        checked = _engine(actor, case, products=products, device_ids=devices, at=at)
        if checked.decision.allowed:
            usage = Usage.objects.create(
                record=record,
                case=case,
                client_id=case.client_id,
                institution_id=case.institution_id,
                usage_key=usage_key,
                scanned_code=(code or "")[:128],
                lot_id=lot_id,
                unit_serial=serial,
                device_id=device_id,
                dose_value=dose_value,
                dose_unit=dose_unit,
                site=site,
                minutes=minutes,
                decision=checked.log,
                recorded_by_id=actor.user_id,
            )
            after = audit.snapshot(usage)
            if trace is not None:
                # The unit is claimed, issued and taken off the lot here; this usage's one audit entry names
                # the trace code and the issue movement beside the lot and the client (which unit went into
                # whom), so a scan costs no entry of its own (docs/inventory.md, "Performance").
                after["trace_code"] = trace.code
                after["stock_movement"] = stock.record_use(actor, trace, usage_id=usage.pk)
            audit.record(actor, "clinical.usage.added", usage, before={}, after=after)
            return usage
    details = _denials(checked)
    with transaction.atomic():
        audit.record(
            actor,
            "clinical.usage.refused",
            case,
            changes={
                "reasons": [d["code"] for d in details],
                "decision": checked.log.pk,
                "lot": lot_id,
                "device": device_id,
            },
        )
    raise ActionError(
        "USAGE_REFUSED",
        _("授权核验未通过,本次使用未记录"),
        field="dose_value" if any(d["code"].startswith(("DOSE", "DURATION")) for d in details) else "code",
        status=409,
        details=details,
    )


@transaction.atomic
def close_record(actor: Actor, case_id: int, *, notes: str = "") -> OperationRecord:
    """The operator signs; for surgery checklist node 3 (before leaving the room) must be complete."""
    case, record = _record_for_update(actor, case_id)
    person = signer(actor, case.institution_id)
    if person.pk != record.operator_id:
        raise ActionError("WRONG_SIGNER", _("须由本记录的操作医师签名结束"), status=403)
    if (
        case.is_surgical
        and not ChecklistNode.objects.filter(
            case=case, node=policy.NODES[2], completed_at__isnull=False
        ).exists()
    ):
        raise ActionError(
            "CHECKLIST_NODE3_INCOMPLETE",
            _("手术安全核查第三节点(患者离开手术室前)尚未完成"),
            status=409,
            details=[
                {
                    "field": "case_id",
                    "code": "CHECKLIST_NODE3_INCOMPLETE",
                    "message": _("手术安全核查第三节点(患者离开手术室前)尚未完成"),
                    "source": policy.source_text(policy.cites("surgical-safety-check-2010")),
                }
            ],
        )
    errors: dict[str, list[str]] = {}
    notes = _text(notes, "notes", 20000, errors, required=False)
    _raise(errors)
    before = audit.snapshot(record)
    now = timezone.now()
    record.notes = notes
    record.status = RecordStatus.CLOSED
    record.closed_at = now
    record.operator_signed_at = now
    record.save()
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.CLOSED, updated_at=now)
    audit.record(actor, "clinical.operationrecord.closed", record, before=before)
    # Apps building on the closed case (aftercare: the follow-up plan) act in this same transaction.
    from . import hooks

    hooks.record_closed(actor, case, record)
    return record


# ---- photos (issue 12, second part) -------------------------------------------------------------

MAX_PHOTO_BYTES = 10 * 1024 * 1024
PHOTO_TYPES = {"image/jpeg": "jpg", "image/png": "png"}


def photo_storage() -> Any:
    """Where photo bytes live: the one place that knows (private, no URL). Swapping it for encrypted-at-rest
    storage changes only this function."""
    from .models import private_storage

    return private_storage()


def _photo_type(data: bytes) -> str:
    """The content type from the bytes themselves (a JPEG or PNG signature and ending), never the file name."""
    if data.startswith(b"\xff\xd8\xff") and data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        return "image/jpeg"
    if data.startswith(PNG_MAGIC) and data[12:16] == b"IHDR" and data.endswith(b"IEND\xaeB`\x82"):
        return "image/png"
    raise FieldErrors({"file": [_("照片须为 JPEG 或 PNG 图片")]})


def upload_photo(
    actor: Actor,
    client_id: int,
    *,
    kind: str,
    data: bytes,
    case_id: int | None = None,
    taken_at: dt.datetime | None = None,
) -> Any:
    """Store a before/after photo privately. The client's separate consent must cover photos (PIPL); the case,
    if given, must be the client's. Nothing is stored when any check fails."""
    from .choices import PhotoKind
    from .models import ClientPhoto

    if kind not in PhotoKind.values:
        raise FieldErrors(
            {"kind": [_("取值无效,可选值:%(choices)s") % {"choices": ", ".join(PhotoKind.values)}]}
        )
    if not data:
        raise FieldErrors({"file": [_("请选择要上传的照片")]})
    if len(data) > MAX_PHOTO_BYTES:
        raise FieldErrors({"file": [_("照片不能超过 %(n)s MB") % {"n": MAX_PHOTO_BYTES // (1024 * 1024)}]})
    content_type = _photo_type(data)
    now = timezone.now()
    if taken_at is not None and taken_at > now + dt.timedelta(minutes=5):
        raise FieldErrors({"taken_at": [_("拍摄时间不能晚于现在")]})
    storage = photo_storage()
    with transaction.atomic():
        client = _client_for_update(actor, client_id)
        case = None
        if case_id is not None:
            case = Case.objects.filter(pk=case_id, client=client).first()
            if case is None:
                raise NotFoundField("case_id")
        consents = PrivacyConsent.objects.filter(client=client, withdrawn_at__isnull=True)
        if not any(PrivacyScope.PHOTOS in c.scope for c in consents):
            raise ActionError(
                "PHOTO_CONSENT_MISSING",
                _("求美者未同意处理面部及身体照片(个人信息保护法第二十九条,须单独同意)"),
                field="client_id",
                status=409,
            )
        digest = hashlib.sha256(data).hexdigest()
        name = f"clinical/photos/{now:%Y/%m}/{uuid.uuid4().hex}.{PHOTO_TYPES[content_type]}"
        photo = ClientPhoto(
            client=client,
            case=case,
            kind=kind,
            sha256=digest,
            taken_at=taken_at or now,
            uploaded_by_id=actor.user_id,
        )
        stored = storage.save(name, _content(data))
        photo.file.name = stored
        try:
            photo.save(force_insert=True)
            audit.record(actor, "clinical.clientphoto.uploaded", photo, before={})
        except Exception:
            storage.delete(stored)  # no file without its row
            raise
    return photo


def _content(data: bytes) -> Any:
    from django.core.files.base import ContentFile

    return ContentFile(data)


def view_photo(actor: Actor, photo_id: int) -> tuple[Any, bytes, str]:
    """The photo's bytes for someone who may see the client's file; every view is an audit entry (written
    before the bytes are returned). A photo the actor cannot see is a 404, like a missing one."""
    from .models import ClientPhoto

    photo = (
        ClientPhoto.objects.visible_to(actor)
        .select_related("client__institution")
        .filter(pk=photo_id)
        .first()
    )
    if photo is None:
        raise NotFoundField("photo_id")
    with photo_storage().open(photo.file.name, "rb") as fh:
        data = fh.read()
    if hashlib.sha256(data).hexdigest() != photo.sha256:
        raise ActionError("PHOTO_CORRUPTED", _("照片文件与登记的校验值不符"), status=409)
    with transaction.atomic():
        audit.record(actor, "clinical.clientphoto.viewed", photo, changes={"sha256": photo.sha256})
    return photo, data, _photo_type(data)


# ---- checklist reminders (issue 12, second part) ------------------------------------------------

# When a node of the surgical safety checklist is "due" (read from the rows' own timestamps):
# - before anaesthesia (node 1): the case's planned time (``scheduled_at``) has come and the record is not open,
#   or its first signature was given this long ago and a party is still missing;
# - before incision (node 2): the record was opened (anaesthesia under way) this long ago;
# - before leaving (node 3): the record has been open this long (the patient should be leaving the room).
NODE1_DUE_AFTER = dt.timedelta(minutes=60)
NODE2_DUE_AFTER = dt.timedelta(minutes=30)
NODE3_DUE_AFTER = dt.timedelta(hours=4)


def _reminder_recipients(case: Case) -> list[int]:
    """The case's operating-room staff (surgeon, anaesthetist, nurse) and the institution's compliance
    officers (its admins when it has none)."""
    from meiguard.core.choices import Role
    from meiguard.notify.services import users_with_roles

    staff = [p.user_id for p in (case.operator, case.anesthetist, case.nurse) if p is not None and p.user_id]
    org = case.institution.organization_id
    officers = users_with_roles(org, [Role.COMPLIANCE_OFFICER]) or users_with_roles(
        org, [Role.INSTITUTION_ADMIN]
    )
    return sorted(set(staff) | set(officers))


def due_checklist_nodes(at: dt.datetime) -> list[tuple[Case, str]]:
    """Surgical cases with a checklist node due at ``at`` and not complete (four queries)."""
    node1, node2, node3 = policy.NODES
    done = Q(completed_at__isnull=False)
    related = ("institution", "operator", "anesthetist", "nurse")
    started = (
        ChecklistNode.objects.filter(
            node=node1,
            completed_at__isnull=True,
            created_at__lte=at - NODE1_DUE_AFTER,
            case__status=CaseStatus.OPEN,
            case__invasiveness="surgical",
        )
        .select_related(*(f"case__{r}" for r in related))
        .order_by("case_id")
    )
    due: list[tuple[Case, str]] = [(n.case, node1) for n in started]
    seen = {case.pk for case, _node in due}
    planned = (
        Case.objects.filter(
            status=CaseStatus.OPEN,
            invasiveness="surgical",
            scheduled_at__lte=at,
            record__isnull=True,
        )
        .exclude(checklist__node=node1, checklist__completed_at__isnull=False)
        .select_related(*related)
        .order_by("pk")
    )
    due += [(case, node1) for case in planned if case.pk not in seen]
    records = list(
        OperationRecord.objects.filter(
            status=RecordStatus.OPEN,
            opened_at__lte=at - NODE2_DUE_AFTER,
            case__invasiveness="surgical",
        )
        .select_related(*(f"case__{r}" for r in related))
        .order_by("case_id")
    )
    complete = set(
        ChecklistNode.objects.filter(done, case_id__in=[r.case_id for r in records]).values_list(
            "case_id", "node"
        )
    )
    for r in records:
        if (r.case_id, node2) not in complete:
            due.append((r.case, node2))
        if r.opened_at <= at - NODE3_DUE_AFTER and (r.case_id, node3) not in complete:
            due.append((r.case, node3))
    return due


def remind_due_checklists(at: dt.datetime | None = None) -> int:
    """Tell the operating-room staff and the compliance officer about each due, incomplete checklist node,
    once per case and node (the notification dedupe key decides, so reruns and racing workers send nothing
    new). Returns the notifications created."""
    from meiguard.notify.messages import label, procedure
    from meiguard.notify.models import NotificationKind
    from meiguard.notify.services import send

    at = at or timezone.now()
    created = 0
    for case, node in due_checklist_nodes(at):
        with transaction.atomic():
            sent = send(
                _reminder_recipients(case),
                kind=NotificationKind.REMINDER,
                message="clinical.checklist_due",
                params={
                    "code": case.code,
                    "procedure": procedure(case.procedure_code),
                    "node": label(ChecklistNodeKind(node).label),
                },
                dedupe_key=f"clinical:checklist:{case.pk}:{node}",
            )
            if sent:
                audit.record(
                    Actor.system("scheduler"),
                    "clinical.checklistnode.reminded",
                    case,
                    changes={"node": node, "recipients": [n.recipient_id for n in sent]},
                )
        created += len(sent)
    return created
