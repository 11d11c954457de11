"""Clinical pages: the client file, the case page (the timeline with the next step as the primary action), the
chair-side scan input, the lot look-back and the PDFs.

Thin views: parse, call one query or action, render. Foreign ids are 404s. An action's error is shown in the
step it belongs to, with the action's status (422 bad input, 403 wrong signer, 409 state), never a 500 and
never a partial write (every action is atomic). Successful steps redirect back to the case (post/redirect/get).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meiguard.authz.views import outcome_view
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.params import actor as _actor
from meiguard.core.params import int_param, param
from meiguard.registry.choices import DoseUnit
from meiguard.registry.models import Institution, Lot, Practitioner
from meiguard.rules.choices import Profession, Subject
from meiguard.rules.services import resolve

from . import actions, exporters, pdf, permissions, policy, queries
from .choices import (
    CaseStatus,
    ChecklistParty,
    ConsentDecision,
    DocumentType,
    PrivacyScope,
    RecordStatus,
    ReviewKind,
    ReviewStatus,
    Sex,
    SignerRelation,
    SignStatus,
    Verdict,
)
from .models import (
    Assessment,
    Case,
    ChecklistNode,
    Client,
    ConsentSignature,
    Consultation,
    OperationRecord,
    PrivacyConsent,
    ProcedurePrice,
    Review,
    Usage,
)

ANESTHESIA_CHOICES = (("", "—"), ("local", "local"), ("epidural-iv", "epidural-iv"), ("general", "general"))


def _english() -> bool:
    return (translation.get_language() or "").startswith("en")


def _title(item: dict[str, Any]) -> str:
    return str(item.get("title_en") if _english() and item.get("title_en") else item.get("title", ""))


# ---- institution selection and the home page (client search) ------------------------------------


def _institutions(request: HttpRequest) -> list[Institution]:
    found = permissions.institutions(_actor(request))
    if not found:
        raise PermissionDenied
    return found


def _chosen(request: HttpRequest, found: list[Institution]) -> Institution:
    wanted = int_param(request, "institution")
    for inst in found:
        if inst.pk == wanted:
            return inst
    return found[0]


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Client search by name (prefix), phone or ID number (exact), with links to a new file and the look-back."""
    actor = _actor(request)
    found = _institutions(request)
    inst = _chosen(request, found)
    q = param(request, "q")
    results = queries.search_clients(actor, inst.pk, q) if q else []
    ctx = {
        "institutions": found,
        "institution": inst,
        "q": q,
        "results": results,
        "searched": bool(q),
        "can_write": permissions.can_write(actor, inst.organization_id),
    }
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "clinical/partials/_search_results.html", ctx)
    return render(request, "clinical/home.html", ctx)


# ---- client file --------------------------------------------------------------------------------

CLIENT_FIELDS = (
    "name",
    "sex",
    "date_of_birth",
    "phone",
    "document_type",
    "id_number",
    "nationality",
    "allergies",
    "medical_history",
    "medications",
    "previous_treatments",
)


def _messages(exc: Exception, labels: dict[str, str] | None = None) -> list[str]:
    """An action's error as readable lines (the field's label where it helps)."""
    labels = labels or {}
    if isinstance(exc, FieldErrors):
        out = []
        for name, msgs in exc.errors.items():
            label = labels.get(name, "")
            out += [f"{label}:{m}" if label else str(m) for m in msgs]
        return out
    if isinstance(exc, NotFoundField):
        return [_("所选对象不存在或您无权访问") + (f"({labels.get(exc.field, exc.field)})")]
    if isinstance(exc, ActionError):
        return [str(exc.message)]
    raise exc  # pragma: no cover


def _status(exc: Exception) -> int:
    return 404 if isinstance(exc, NotFoundField) else int(getattr(exc, "status", 400))


def _parse_date(raw: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw.strip()) if raw.strip() else None
    except ValueError:
        raise FieldErrors({"date_of_birth": [_("日期格式应为 YYYY-MM-DD")]}) from None


def _client_labels() -> dict[str, str]:
    return {f.name: str(f.verbose_name) for f in Client._meta.fields}


@login_required
def client_new(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    found = _institutions(request)
    inst = _chosen(request, found)
    if not permissions.can_write(actor, inst.organization_id):
        raise PermissionDenied
    errors: list[str] = []
    values = {k: request.POST.get(k, "")[:4000] for k in CLIENT_FIELDS}
    status = 200
    if request.method == "POST":
        try:
            data: dict[str, Any] = dict(values)
            data["date_of_birth"] = _parse_date(values["date_of_birth"][:10])
            if data["sex"] not in Sex.values:
                data["sex"] = Sex.UNKNOWN
            if data["document_type"] not in DocumentType.values:
                raise FieldErrors({"document_type": [_("选项无效")]})
            client = actions.create_client(actor, institution_id=inst.pk, data=data)
        except (ActionError, NotFoundField) as exc:
            errors, status = _messages(exc, _client_labels()), _status(exc)
        else:
            messages.success(request, _("已建档:%(name)s") % {"name": client.name})
            return redirect("clinical:client", client.pk)
    ctx = {
        "institution": inst,
        "institutions": found,
        "v": values,
        "errors": errors,
        "sexes": Sex.choices,
        "document_types": DocumentType.choices,
    }
    return render(request, "clinical/client_form.html", ctx, status=status)


def _client_context(request: HttpRequest, pk: int) -> dict[str, Any]:
    actor = _actor(request)
    client = queries.client(actor, pk)  # 404 when foreign
    inst = client.institution
    cases = list(
        Case.objects.visible_to(actor)
        .filter(client=client)
        .select_related("operator")
        .order_by("-created_at")
    )
    consents = list(PrivacyConsent.objects.filter(client=client).order_by("-granted_at", "-pk"))
    used = queries.usages_of_client(actor, pk, limit=200)
    can_write = permissions.can_write(actor, inst.organization_id)
    ctx: dict[str, Any] = {
        "client": client,
        "institution": inst,
        "cases": cases,
        "consents": consents,
        "health_consent": any(c.is_active and PrivacyScope.HEALTH in c.scope for c in consents),
        "usages": used,
        "can_write": can_write,
        "scopes": PrivacyScope.choices,
        "errors": {},
        "v": {},
    }
    if can_write:
        ctx |= _case_form_choices(inst)
    return ctx


def _case_form_choices(inst: Institution) -> dict[str, Any]:
    people = list(
        Practitioner.objects.filter(status="active")
        .filter(Q(main_institution_id=inst.pk) | Q(sites__institution_id=inst.pk))
        .distinct()
        .order_by("name", "pk")
    )
    return {
        "procedures": _priced_procedures(inst),
        "doctors": [p for p in people if p.profession == Profession.DOCTOR],
        "anesthetists": [p for p in people if p.profession in (Profession.ANESTHETIST, Profession.DOCTOR)],
        "nurses": [p for p in people if p.profession == Profession.NURSE],
        "anesthesia_choices": ANESTHESIA_CHOICES,
    }


def _priced_procedures(inst: Institution) -> list[dict[str, Any]]:
    """The institution's published prices (明码标价) with the procedure names of the rule pack in force."""
    pack = resolve(inst.province, timezone.localdate(), inst.pk)
    out = []
    for row in ProcedurePrice.objects.filter(institution=inst).order_by("procedure_code"):
        proc = pack.procedures.get(row.procedure_code)
        if proc is None:
            continue
        name = proc.name_en if _english() and proc.name_en else proc.name_zh
        subject = Subject(proc.subject).label if proc.subject in Subject.values else proc.subject
        out.append(
            {
                "code": row.procedure_code,
                "name": name,
                "price": row.price,
                "grade": proc.grade,
                "subject": subject,
            }
        )
    # Grouped by subject for the form's <optgroup>s, then by grade and name.
    return sorted(out, key=lambda p: (str(p["subject"]), p["grade"] or 0, p["name"]))


def _render_client(request: HttpRequest, ctx: dict[str, Any], status: int = 200) -> HttpResponse:
    return render(request, "clinical/client_detail.html", ctx, status=status)


@login_required
def client_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_client(request, _client_context(request, pk))


def _client_post(request: HttpRequest, pk: int, form: str, run: Any, done: str) -> HttpResponse:
    """Run one write of the client file; on error re-render the file with the message in that form."""
    actor = _actor(request)
    try:
        obj = run(actor)
    except (ActionError, NotFoundField) as exc:
        if isinstance(exc, NotFoundField) and exc.field in ("client_id", "consent_id"):
            raise
        ctx = _client_context(request, pk)
        ctx["errors"] = {form: _messages(exc, _client_labels())}
        ctx["v"] = {k: request.POST.get(k, "")[:4000] for k in request.POST}
        return _render_client(request, ctx, status=_status(exc))
    messages.success(request, done)
    if isinstance(obj, Case):
        return redirect("clinical:case", obj.pk)
    return redirect("clinical:client", pk)


def _int(request: HttpRequest, name: str, *, required: bool = False) -> int | None:
    raw = request.POST.get(name, "").strip()
    if not raw:
        if required:
            raise FieldErrors({name: [_("此字段为必填项")]})
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise FieldErrors({name: [_("请输入整数")]})
    return int(raw)


@login_required
@require_POST
def client_update(request: HttpRequest, pk: int) -> HttpResponse:
    data = {k: request.POST.get(k, "")[:4000] for k in (*actions.CLIENT_TEXT_FIELDS, "phone")}
    return _client_post(
        request,
        pk,
        "health",
        lambda actor: actions.update_client_health(actor, pk, data=data),
        _("档案已更新"),
    )


@login_required
@require_POST
def privacy_grant(request: HttpRequest, pk: int) -> HttpResponse:
    def run(actor: Any) -> Any:
        return actions.grant_privacy_consent(
            actor,
            pk,
            purpose=request.POST.get("purpose", "")[:2000],
            scope=request.POST.getlist("scope")[:5],
            retention_years=_int(request, "retention_years", required=True) or 0,
            notice_version=request.POST.get("notice_version", "")[:64],
        )

    return _client_post(request, pk, "privacy", run, _("已记录个人信息处理同意"))


@login_required
@require_POST
def privacy_withdraw(request: HttpRequest, pk: int, consent_id: int) -> HttpResponse:
    queries.client(_actor(request), pk)
    if not PrivacyConsent.objects.filter(pk=consent_id, client_id=pk).exists():
        raise Http404
    return _client_post(
        request,
        pk,
        "privacy",
        lambda actor: actions.withdraw_privacy_consent(
            actor, consent_id, reason=request.POST.get("reason", "")[:2000]
        ),
        _("同意已撤回"),
    )


@login_required
@require_POST
def case_new(request: HttpRequest, pk: int) -> HttpResponse:
    def run(actor: Any) -> Any:
        anesthesia = request.POST.get("anesthesia", "")
        if anesthesia not in dict(ANESTHESIA_CHOICES):
            raise FieldErrors({"anesthesia": [_("选项无效")]})
        return actions.create_case(
            actor,
            client_id=pk,
            procedure_code=request.POST.get("procedure_code", "")[:64],
            operator_id=_int(request, "operator_id", required=True) or 0,
            anesthetist_id=_int(request, "anesthetist_id"),
            nurse_id=_int(request, "nurse_id"),
            anesthesia=anesthesia or None,
            scheduled_at=_local_datetime(request, "scheduled_at"),
        )

    return _client_post(request, pk, "case", run, _("病例已创建"))


def _local_datetime(request: HttpRequest, name: str) -> dt.datetime | None:
    """A ``datetime-local`` input (``YYYY-MM-DDTHH:MM``) read in the institution's time zone."""
    raw = request.POST.get(name, "").strip()
    if not raw:
        return None
    try:
        value = dt.datetime.strptime(raw[:16], "%Y-%m-%dT%H:%M") if raw.isascii() else None
    except ValueError:
        value = None
    if value is None or not 2000 <= value.year <= 2199:
        raise FieldErrors({name: [_("时间格式应为 YYYY-MM-DD HH:MM")]})
    return timezone.make_aware(value, timezone.get_current_timezone())


@login_required
def client_usages_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    rows = [trace_row(u) for u in queries.usages_of_client(actor, pk, limit=exporters.MAX_EXPORT_ROWS + 1)]
    return exporters.trace_xlsx(actor, rows, f"client-{pk}")


def trace_row(u: queries.TraceRow) -> dict[str, Any]:
    return {
        "client_name": u.client_name,
        "client_phone": u.client_phone,
        "case_code": u.case_code,
        "procedure_name": u.procedure_name,
        "product": u.product,
        "lot_no": u.lot_no if u.lot_id is not None else u.device_serial_no,
        "dose": f"{u.dose_value.normalize():f} {u.dose_unit}" if u.dose_value is not None else "",
        "site": u.site,
        "at": u.created_at,
    }


# ---- lot look-back ------------------------------------------------------------------------------


@login_required
def lots(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    found = _institutions(request)
    inst = _chosen(request, found)
    q = param(request, "q")
    qs = Lot.objects.visible_to(actor).filter(institution=inst).select_related("product")
    if q:
        qs = qs.filter(Q(lot_no__icontains=q) | Q(product__brand_name__icontains=q))
    ctx = {
        "institutions": found,
        "institution": inst,
        "q": q,
        "lots": list(qs.order_by("-expiry_date", "pk")[:100]),
    }
    return render(request, "clinical/lots.html", ctx)


@login_required
def lot_clients(request: HttpRequest, pk: int) -> HttpResponse:
    """Which clients received lot X (recall look-back), with their contact details; ``?format=xlsx`` exports
    (the export is audited: it names clients and phones)."""
    actor = _actor(request)
    if param(request, "format") == "xlsx":
        used = queries.clients_of_lot(actor, pk, limit=exporters.MAX_EXPORT_ROWS + 1)  # 404 when foreign
        return exporters.trace_xlsx(actor, [trace_row(u) for u in used], f"lot-{pk}", lot_id=pk)
    page = queries.clients_of_lot_page(actor, pk, limit=LOT_PAGE_ROWS)  # 404 when foreign
    lot = Lot.objects.select_related("product", "institution").get(pk=pk)
    complete = len(page.rows) == page.total
    ctx = {
        "lot": lot,
        "rows": page.rows,
        "total": page.total,
        "complete": complete,
        # Distinct clients are known only when the whole list is on the page (else: the export or the API).
        "clients": len({u.client_id for u in page.rows}) if complete else None,
        "max_export_rows": exporters.MAX_EXPORT_ROWS,
    }
    return render(request, "clinical/lot_clients.html", ctx)


LOT_PAGE_ROWS = 500  # rows the lot's page shows; the export holds up to MAX_EXPORT_ROWS, the API pages all


# ---- the case page ------------------------------------------------------------------------------

STEP_ORDER = (
    "consultation",
    "consent",
    "assessment",
    "review",
    "node1",
    "open",
    "node2",
    "usage",
    "node3",
    "close",
)

# What to do about each refusal reason of the gate: the step that fixes it.
REASON_STEP = {
    "PRIVACY_CONSENT_MISSING": "privacy",
    "CONSULTATION_NOT_SIGNED": "consultation",
    "CONSENT_NOT_SIGNED": "consent",
    "CONSENT_REFUSED": "consent",
    "CONSENT_OUTDATED": "consent",
    "ASSESSMENT_MISSING": "assessment",
    "ASSESSMENT_FAILED": "assessment",
    "ASSESSMENT_CHIEF_SIGNATURE_MISSING": "assessment",
    "ASSESSMENT_ANESTHETIST_SIGNATURE_MISSING": "assessment",
    "REVIEW_MISSING": "review",
    "REVIEW_NOT_APPROVED": "review",
    "CHECKLIST_NODE1_INCOMPLETE": "node1",
}


def _todo(code: str) -> str:
    hints = {
        "PRIVACY_CONSENT_MISSING": _("在求美者档案中记录其单独同意(健康信息)"),
        "CONSULTATION_NOT_SIGNED": _("请主诊医师在“面诊”中签名"),
        "CONSENT_NOT_SIGNED": _("请求美者阅读知情同意书并手写签名"),
        "CONSENT_REFUSED": _("求美者拒绝签署:不得实施;如其改变决定,重新签署"),
        "CONSENT_OUTDATED": _("模板已更新:请求美者签署现行版本"),
        "ASSESSMENT_MISSING": _("填写术前评估表"),
        "ASSESSMENT_FAILED": _("评估不达标:不得实施,请与求美者沟通其他方案"),
        "ASSESSMENT_CHIEF_SIGNATURE_MISSING": _("请主诊医师在术前评估上签名"),
        "ASSESSMENT_ANESTHETIST_SIGNATURE_MISSING": _("请麻醉医师在术前评估上签名"),
        "REVIEW_MISSING": _("开启分级评估"),
        "REVIEW_NOT_APPROVED": _("完成分级评估(委员会表决或主诊医师与护士确认)"),
        "CHECKLIST_NODE1_INCOMPLETE": _("扫描腕带,完成麻醉实施前核查"),
        "ENGINE_DENIED": _("授权核验未通过:见下列核验原因,请联系授权专员"),
    }
    return str(hints.get(code, _("请联系授权专员核查授权档案与登记信息")))


def _reasons_view(details: list[dict[str, str]], case: Case) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for d in details:
        step = REASON_STEP.get(d["code"], "")
        if step == "privacy":
            href = reverse("clinical:client", args=[case.client_id]) + "#privacy"
        else:
            href = f"#step-{step}" if step else ""
        out.append(d | {"todo": _todo(d["code"]), "href": href, "engine": d.get("field") == "engine"})
    return out


def _assessment_sections(answers: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for section in policy.assessment_form()["sections"]:
        items = []
        for item in section["items"]:
            options = [
                {
                    "value": str(o["value"]),
                    "title": _title(o),
                    "points": o["points"],
                    "blocks": o.get("blocks"),
                }
                for o in item["options"]
            ]
            items.append(
                {
                    "id": item["id"],
                    "title": _title(item),
                    "options": options,
                    "chosen": answers.get(item["id"]),
                }
            )
        out.append({"id": section["id"], "title": _title(section), "items": items})
    return out


def _item_titles() -> dict[str, str]:
    titles = {f"answers.{k}": _title(v) for k, v in policy.form_items().items()}
    for rows in policy.checklist_items().values():
        titles |= {f"items.{r['id']}": _title(r) for r in rows}
    titles["asa_class"] = _("ASA 分级")
    titles["scanned"] = _("扫码")
    return titles


def _warning_text(w: str) -> str:
    kind, _sep, value = w.partition(":")
    if kind == "assessment":
        item = policy.form_items().get(value)
        return _("术前评估提示:%(item)s") % {"item": _title(item) if item else value}
    if kind == "grade":
        return _("%(g)s级手术") % {"g": value}
    if kind == "anesthesia":
        from meiguard.rules.choices import Anesthesia

        label = str(Anesthesia(value).label) if value in Anesthesia.values else value
        return _("麻醉方式:%(a)s(须麻醉医师参与)") % {"a": label}
    return w


def _me(request: HttpRequest, inst_id: int) -> Practitioner | None:
    try:
        return actions.signer(_actor(request), inst_id)
    except ActionError:
        return None


def case_context(request: HttpRequest, pk: int) -> dict[str, Any]:
    """Everything the case page shows, read in a fixed number of queries."""
    actor = _actor(request)
    case = queries.case(actor, pk)  # 404 when foreign
    inst = case.institution
    consultation = Consultation.objects.filter(case=case).select_related("doctor").first()
    items = list(consultation.items.all()) if consultation else []
    consents = list(ConsentSignature.objects.filter(case=case).order_by("-signed_at", "-pk"))
    active_consent = next(
        (c for c in consents if c.decision == ConsentDecision.SIGNED and c.withdrawn_at is None), None
    )
    template = actions.current_template(case.institution_id, case.procedure_code)
    assessment = (
        Assessment.objects.filter(case=case)
        .select_related("chief_signed_by", "anesthetist_signed_by")
        .first()
    )
    review = (
        Review.objects.filter(case=case).select_related("chief_confirmed_by", "nurse_confirmed_by").first()
    )
    votes = (
        list(review.votes.select_related("user")) if review and review.kind == ReviewKind.COMMITTEE else []
    )
    nodes = {
        n.node: n
        for n in ChecklistNode.objects.filter(case=case).select_related("surgeon", "anesthetist", "nurse")
    }
    record = OperationRecord.objects.filter(case=case).select_related("decision").first()
    usages = (
        list(Usage.objects.filter(record=record).select_related("lot__product", "device__product"))
        if record
        else []
    )
    limits, _version, two_party = actions.thresholds(case.institution_id)
    parties = policy.checklist_parties(case.anesthesia, two_party_under_local=two_party)
    can_write = permissions.can_write(actor, inst.organization_id)
    me = _me(request, inst.pk) if can_write else None

    node_views = []
    for i, node in enumerate(policy.NODES):
        row = nodes.get(node)
        node_views.append(
            {
                "node": node,
                "n": i + 1,
                "step": f"node{i + 1}",
                "label": dict(ChecklistNode._meta.get_field("node").choices or []).get(node, node),
                "row": row,
                "items": [{"id": r["id"], "title": _title(r)} for r in policy.checklist_items()[node]],
                "checked": row.items if row else {},
                "parties": [
                    {
                        "party": p,
                        "label": ChecklistParty(p).label,
                        "by": getattr(row, p) if row else None,
                        "at": getattr(row, f"{p}_signed_at") if row else None,
                    }
                    for p in parties
                ],
                "open_parties": [
                    (p, ChecklistParty(p).label) for p in parties if not (row and getattr(row, f"{p}_id"))
                ],
                "needs_scan": not (row and row.scanned),
                "complete": bool(row and row.is_complete),
            }
        )

    done = {
        "consultation": bool(consultation and consultation.status == SignStatus.SIGNED),
        "consent": active_consent is not None
        and template is not None
        and active_consent.template_id == template.pk,
        "assessment": bool(
            assessment
            and assessment.passed
            and assessment.chief_signed_by_id
            and (assessment.anesthetist_signed_by_id or not case.needs_anesthetist)
        ),
        "review": bool(review and review.status == ReviewStatus.APPROVED),
        "node1": node_views[0]["complete"] or not case.is_surgical,
        "open": record is not None,
        "node2": node_views[1]["complete"] or not case.is_surgical,
        "usage": bool(usages) or (record is not None and record.status == RecordStatus.CLOSED),
        "node3": node_views[2]["complete"] or not case.is_surgical,
        "close": bool(record and record.status == RecordStatus.CLOSED),
    }
    relevant = [s for s in STEP_ORDER if case.is_surgical or s not in ("node1", "node2", "node3")]
    nxt = ""
    if case.status in (CaseStatus.OPEN, CaseStatus.IN_OPERATION):
        if case.status == CaseStatus.OPEN:
            nxt = next((s for s in relevant if not done[s]), "open")
        else:
            nxt = next((s for s in relevant[relevant.index("open") + 1 :] if not done[s]), "close")
    steps = [{"id": s, "done": done[s], "next": s == nxt} for s in relevant]
    ctx: dict[str, Any] = {
        "case": case,
        "client": case.client,
        "institution": inst,
        "consultation": consultation,
        "items": items,
        "items_total": sum((i.price for i in items), Decimal(0)),
        "consents": consents,
        "active_consent": active_consent,
        "template": template,
        "assessment": assessment,
        "sections": _assessment_sections(assessment.answers if assessment else {}),
        "asa_choices": range(1, 7),
        "limits": limits,
        "review": review,
        "votes": votes,
        "warnings": [_warning_text(w) for w in (review.warnings if review else [])],
        "nodes": node_views,
        "record": record,
        "verdict": outcome_view(record.decision.outcome) if record else None,
        "usages": usages,
        "steps": steps,
        "next": nxt,
        "can_write": can_write,
        "me": me,
        "is_open": case.status == CaseStatus.OPEN,
        "in_operation": case.status == CaseStatus.IN_OPERATION,
        "relations": SignerRelation.choices,
        "verdicts": Verdict.choices,
        "dose_units": DoseUnit.choices,
        "usage_key": uuid.uuid4().hex,
        "errors": {},
        "gate": None,
        "refused": None,
        "v": {},
    }
    if (
        can_write
        and case.status == CaseStatus.OPEN
        and not (consultation and consultation.status == "signed")
    ):
        ctx["procedures"] = _priced_procedures(inst)
        ctx["proposed"] = {i.procedure_code for i in items} or {case.procedure_code}
    return ctx


def _render_case(request: HttpRequest, ctx: dict[str, Any], status: int = 200) -> HttpResponse:
    return render(request, "clinical/case_detail.html", ctx, status=status)


@login_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_case(request, case_context(request, pk))


def _decimal(request: HttpRequest, name: str) -> Decimal | None:
    raw = request.POST.get(name, "").strip()
    if not raw:
        return None
    if not raw.isascii():
        raise FieldErrors({name: [_("请输入数字")]})
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise FieldErrors({name: [_("请输入数字")]}) from None
    if not value.is_finite() or value <= 0 or value >= Decimal("1e6") or -value.as_tuple().exponent > 3:  # type: ignore[operator]
        raise FieldErrors({name: [_("请输入大于0、最多三位小数的数字")]})
    return value


def _step_consultation(request: HttpRequest, actor: Any, pk: int) -> str:
    actions.save_consultation(
        actor,
        pk,
        needs=request.POST.get("needs", "")[:8000],
        findings=request.POST.get("findings", "")[:8000],
        procedure_codes=[c[:64] for c in request.POST.getlist("procedure_codes")[:20]],
    )
    return _("面诊记录已保存")


def _step_consultation_sign(request: HttpRequest, actor: Any, pk: int) -> str:
    actions.sign_consultation(actor, pk)
    return _("面诊记录已签名")


def _step_consent(request: HttpRequest, actor: Any, pk: int) -> str:
    decision = request.POST.get("decision", "")
    actions.sign_consent(
        actor,
        pk,
        template_id=_int(request, "template_id", required=True) or 0,
        content_hash=request.POST.get("content_hash", "")[:64],
        decision=decision,
        signer_name=request.POST.get("signer_name", "")[:128],
        signer_relation=request.POST.get("signer_relation", "") or SignerRelation.SELF,
        signature_image=request.POST.get("signature_image", "")[:300_000],
    )
    return _("知情同意已签署") if decision == ConsentDecision.SIGNED else _("已记录:求美者拒绝签署")


def _step_consent_withdraw(request: HttpRequest, actor: Any, pk: int) -> str:
    actions.withdraw_consent(actor, pk, reason=request.POST.get("reason", "")[:2000])
    return _("知情同意已撤回")


def _step_assessment(request: HttpRequest, actor: Any, pk: int) -> str:
    answers = {
        k: request.POST[f"a_{k}"][:32] for k in policy.form_items() if request.POST.get(f"a_{k}", "") != ""
    }
    a = actions.save_assessment(actor, pk, answers=answers, asa_class=_int(request, "asa_class"))
    return _("术前评估已保存:%(score)s 分,%(risk)s") % {"score": a.score, "risk": a.get_risk_level_display()}


def _step_assessment_sign(request: HttpRequest, actor: Any, pk: int) -> str:
    actions.sign_assessment(actor, pk, role=request.POST.get("role", "")[:16])
    return _("已签名")


def _step_review_open(request: HttpRequest, actor: Any, pk: int) -> str:
    actions.open_review(actor, pk)
    return _("分级评估已开启")


def _step_review_discuss(request: HttpRequest, actor: Any, pk: int) -> str:
    actions.record_discussion(
        actor,
        pk,
        department=request.POST.get("department", "")[:128],
        discussion=request.POST.get("discussion", "")[:20000],
    )
    return _("病例讨论已记录")


def _step_review_vote(request: HttpRequest, actor: Any, pk: int) -> str:
    actions.vote_review(
        actor,
        pk,
        verdict=request.POST.get("verdict", "")[:16],
        comment=request.POST.get("comment", "")[:4000],
    )
    return _("您的意见已记录")


def _step_review_confirm(request: HttpRequest, actor: Any, pk: int) -> str:
    actions.confirm_review(actor, pk, role=request.POST.get("role", "")[:16])
    return _("已确认")


def _step_checklist(request: HttpRequest, actor: Any, pk: int) -> str:
    node = request.POST.get("node", "")[:32]
    scanned = [s[:128] for s in request.POST.getlist("scanned")[:5] if s.strip()]
    actions.sign_checklist_node(
        actor,
        pk,
        node=node,
        party=request.POST.get("party", "")[:16],
        items=dict.fromkeys([i[:64] for i in request.POST.getlist("items")[:30]], True),
        scanned=scanned,
    )
    return _("核查签名已记录")


def _step_usage(request: HttpRequest, actor: Any, pk: int) -> str:
    unit = request.POST.get("dose_unit", "")
    if unit and unit not in DoseUnit.values:
        raise FieldErrors({"dose_unit": [_("选项无效")]})
    minutes = _int(request, "minutes")
    if minutes is not None and minutes > 24 * 60:
        raise FieldErrors({"minutes": [_("不能大于 %(n)s") % {"n": 24 * 60}]})
    code = request.POST.get("code", "").strip()
    if not code:
        raise FieldErrors({"code": [_("请扫描产品批次或设备条码")]})
    actions.add_usage(
        actor,
        pk,
        usage_key=request.POST.get("usage_key", "")[:80],
        code=code[:256],
        dose_value=_decimal(request, "dose_value"),
        dose_unit=unit,
        site=request.POST.get("site", "")[:128],
        minutes=minutes,
    )
    return _("已记录使用")


def _step_close(request: HttpRequest, actor: Any, pk: int) -> str:
    actions.close_record(actor, pk, notes=request.POST.get("notes", "")[:40000])
    return _("记录已签名结束")


def _step_cancel(request: HttpRequest, actor: Any, pk: int) -> str:
    actions.cancel_case(actor, pk, reason=request.POST.get("reason", "")[:2000])
    return _("病例已取消")


STEPS = {
    "consultation": ("consultation", _step_consultation),
    "consultation-sign": ("consultation", _step_consultation_sign),
    "consent": ("consent", _step_consent),
    "consent-withdraw": ("consent", _step_consent_withdraw),
    "assessment": ("assessment", _step_assessment),
    "assessment-sign": ("assessment", _step_assessment_sign),
    "review-open": ("review", _step_review_open),
    "review-discuss": ("review", _step_review_discuss),
    "review-vote": ("review", _step_review_vote),
    "review-confirm": ("review", _step_review_confirm),
    "checklist": ("checklist", _step_checklist),
    "usage": ("usage", _step_usage),
    "close": ("close", _step_close),
    "cancel": ("cancel", _step_cancel),
}


@login_required
@require_POST
def case_step(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    if step not in STEPS:
        raise Http404
    section, run = STEPS[step]
    if step == "checklist":
        section = "node-" + request.POST.get("node", "")[:32]
    actor = _actor(request)
    try:
        done = run(request, actor, pk)
    except (ActionError, NotFoundField) as exc:
        if isinstance(exc, NotFoundField) and exc.field == "case_id":
            raise
        ctx = case_context(request, pk)
        ctx["errors"] = {section: _messages(exc, _item_titles())}
        if (
            isinstance(exc, ActionError)
            and not isinstance(exc, FieldErrors)
            and exc.details
            and step == "usage"
        ):
            ctx["refused"] = _reasons_view(exc.details, ctx["case"])
        ctx["v"] = {k: request.POST.get(k, "")[:4000] for k in request.POST if k != "csrfmiddlewaretoken"}
        return _render_case(request, ctx, status=_status(exc))
    messages.success(request, done)
    anchor = "step-" + section
    if section.startswith("node-") and section[5:] in policy.NODES:
        anchor = f"step-node{policy.NODES.index(section[5:]) + 1}"
    return redirect(reverse("clinical:case", args=[pk]) + f"#{anchor}")


@login_required
@require_POST
def case_open(request: HttpRequest, pk: int) -> HttpResponse:
    """The gate: open the record, or show every reason why not (full width, with sources and what to do)."""
    actor = _actor(request)
    try:
        actions.open_record(actor, pk)
    except actions.GateRefused as exc:
        ctx = case_context(request, pk)
        ctx["gate"] = {
            "message": str(exc.message),
            "reasons": _reasons_view(exc.details, ctx["case"]),
            "decision_id": exc.decision_id,
        }
        return _render_case(request, ctx, status=409)
    except (ActionError, NotFoundField) as exc:
        if isinstance(exc, NotFoundField):
            raise
        ctx = case_context(request, pk)
        ctx["errors"] = {"open": _messages(exc)}
        return _render_case(request, ctx, status=_status(exc))
    messages.success(request, _("准入核验通过,治疗/手术记录已开启"))
    return redirect(reverse("clinical:case", args=[pk]) + "#step-open")


# ---- PDFs ---------------------------------------------------------------------------------------


@login_required
def consent_pdf(request: HttpRequest, pk: int, consent_id: int) -> HttpResponse:
    content = pdf.consent_pdf(_actor(request), pk, consent_id)
    return pdf.attachment(content, f"consent-{pk}-{consent_id}.pdf")


@login_required
def case_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    content = pdf.case_pdf(_actor(request), pk)
    return pdf.attachment(content, f"case-{pk}.pdf")
