"""Every state change of incidents (不良事件/医疗差错/隐患) and their regulatory reports. Each is atomic,
tenancy-checked and audited in the same transaction (docs/aftercare.md, "Incidents and regulatory reports").

- ``report_incident`` (any staff member of the institution) and ``escalate_reaction`` (a reaction → an incident,
  prefilled): the report clock starts from discovery (``incident_policy``); cluster detection runs.
- ``grade_incident``, ``submit_report``, ``close_incident``: 医务科 / 授权专员 / admins only.
- ``record_seal`` / ``record_unseal``: physical evidence sealed and unsealed with both parties (append-only).
- ``detect_cluster``: several events on one lot or product within the institution's window → a cluster incident
  (群体不良事件) with its own clock (12 h devices, at once drugs), the officers told once.
- ``tick_reports``: the report clocks' warning (75 % elapsed) and breach notices, each once (called by
  ``actions.run_clocks``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from meiguard.audit import log as audit
from meiguard.clinical.models import Case
from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.models import User
from meiguard.notify.messages import each_language, label
from meiguard.notify.models import NotificationKind
from meiguard.notify.recipients import officers as _officers
from meiguard.notify.recipients import roles_by_org as _roles_by_org
from meiguard.notify.services import Message, send_many
from meiguard.registry.choices import ProductKind
from meiguard.registry.models import Device, Institution, Lot, Product
from meiguard.rules import institution as inst_policy

from . import incident_policy as ip
from .actions import MAX_FUTURE, _choice, _text
from .choices import (
    INCIDENT_MANAGERS,
    INCIDENT_REPORTERS,
    IncidentGrade,
    IncidentKind,
    IncidentStatus,
    ReportChannel,
    Severity,
)
from .models import AdverseReaction, EvidenceSeal, EvidenceUnseal, Incident

SYSTEM_REPORTER = "系统(群体事件检测)"
OLDEST = dt.timedelta(days=366)


# ---- helpers ------------------------------------------------------------------------------------


def _raise(errors: dict[str, list[str]]) -> None:
    if errors:
        raise FieldErrors(errors)


def _when(at: dt.datetime) -> str:
    return f"{timezone.localtime(at):%Y-%m-%d %H:%M}"


def _user_name(actor: Actor) -> str:
    if actor.user_id is None:
        return SYSTEM_REPORTER
    user = User.objects.filter(pk=actor.user_id).first()
    return str(user) if user else actor.username


def _is_manager(actor: Actor, incident: Incident) -> bool:
    return actor.can_write_org(incident.institution.organization_id, INCIDENT_MANAGERS)


def _require_manager(actor: Actor, incident: Incident) -> None:
    if not _is_manager(actor, incident):
        raise ActionError(
            "INCIDENT_NEEDS_MANAGER", _("只有医务科、授权专员或机构管理员可以定级、上报和结案"), status=403
        )


def _incident_for_update(actor: Actor, incident_id: int) -> Incident:
    found = (
        Incident.objects.writable_by(actor)
        .select_for_update(of=("self",))
        .select_related("institution")
        .filter(pk=incident_id)
        .first()
    )
    if found is None:
        raise NotFoundField("incident_id")
    return found


def _check_time(
    value: dt.datetime | None,
    field: str,
    errors: dict[str, list[str]],
    *,
    now: dt.datetime,
    required: bool = True,
) -> None:
    if value is None:
        if required:
            errors.setdefault(field, []).append(_("此字段为必填项"))
        return
    if timezone.is_naive(value):
        errors.setdefault(field, []).append(_("时间须带时区"))
    elif value > now + MAX_FUTURE:
        errors.setdefault(field, []).append(_("时间不能晚于现在"))
    elif value < now - OLDEST:
        errors.setdefault(field, []).append(_("时间不能早于一年前"))


def _severity(kind: str, severity: str, errors: dict[str, list[str]]) -> None:
    allowed = ip_severities(kind)
    if kind in IncidentKind.values and severity not in allowed:
        errors.setdefault("severity", []).append(
            _("该类别的严重程度可选:%(choices)s") % {"choices": ", ".join(allowed)}
        )


def ip_severities(kind: str) -> tuple[str, ...]:
    from .choices import SEVERITIES_BY_KIND

    return SEVERITIES_BY_KIND.get(kind, ())


def _grade_rules(kind: str, grade: str, errors: dict[str, list[str]]) -> None:
    if kind == IncidentKind.HAZARD and grade and grade != IncidentGrade.IV:
        errors.setdefault("grade", []).append(_("隐患(未遂事件)为 IV 级"))


def _set_clock(incident: Incident) -> None:
    """The report clock of the incident's kind and severity, from discovery (none for a hazard)."""
    clock = ip.clock_for(incident.kind, incident.severity, cluster=incident.is_cluster)
    if clock is None:
        incident.report_clock = ""
        incident.report_due_at = incident.report_warn_at = None
    else:
        incident.report_clock = clock.id
        incident.report_due_at = clock.due(incident.discovered_at)
        incident.report_warn_at = clock.warn_at(incident.discovered_at)
    incident.report_warned_at = incident.report_breached_at = None


# ---- reporting ----------------------------------------------------------------------------------


def _institution_for_report(actor: Actor, institution_id: int) -> Institution:
    qs = Institution.objects.visible_to(actor).filter(pk=institution_id)
    if not actor.is_unrestricted:
        qs = qs.filter(organization_id__in=actor.org_ids_with_roles(INCIDENT_REPORTERS))
    inst = qs.select_related("organization").first()
    if inst is None:
        raise NotFoundField("institution_id")
    return inst


@transaction.atomic
def report_incident(
    actor: Actor,
    *,
    institution_id: int,
    kind: str,
    grade: str,
    severity: str,
    title: str,
    description: str,
    discovered_at: dt.datetime | None,
    case_id: int | None = None,
    product_id: int | None = None,
    lot_id: int | None = None,
    device_id: int | None = None,
    reaction_id: int | None = None,
) -> Incident:
    """Record an incident or a hazard at an institution where the actor works; its report clock (if the law
    asks for a report) runs from ``discovered_at``. Linked rows must be the institution's own."""
    inst = _institution_for_report(actor, institution_id)
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    _choice(kind, IncidentKind, "kind", errors)
    _choice(grade, IncidentGrade, "grade", errors)
    if kind == IncidentKind.HAZARD and not severity:
        severity = Severity.NONE
    _severity(kind, severity, errors)
    _grade_rules(kind, grade, errors)
    title = _text(title, "title", 200, errors)
    description = _text(description, "description", 4000, errors)
    _check_time(discovered_at, "discovered_at", errors, now=now)
    _raise(errors)
    assert discovered_at is not None
    links = _links(
        actor,
        inst,
        case_id=case_id,
        product_id=product_id,
        lot_id=lot_id,
        device_id=device_id,
        reaction_id=reaction_id,
    )
    incident = Incident(
        institution=inst,
        kind=kind,
        grade=grade,
        severity=severity,
        title=title,
        description=description,
        discovered_at=discovered_at,
        reporter_id=actor.user_id,
        reporter_name=_user_name(actor),
        reported_at=now,
        **links,
    )
    _set_clock(incident)
    incident.save()
    audit.record(actor, "aftercare.incident.reported", incident, before={})
    roles = _roles_by_org([inst.organization_id])
    send_many([_reported_message(incident, roles)])
    detect_for(incident.institution, lot_id=incident.lot_id, product_id=incident.product_id, at=now)
    return incident


def _links(
    actor: Actor,
    inst: Institution,
    *,
    case_id: int | None,
    product_id: int | None,
    lot_id: int | None,
    device_id: int | None,
    reaction_id: int | None,
) -> dict[str, Any]:
    """The linked case, reaction, lot, device and product: each visible to the actor and of this institution
    (a foreign id is a 404 naming the field). A lot or device names its product; a reaction its case."""
    out: dict[str, Any] = {}
    reaction = None
    if reaction_id is not None:
        reaction = (
            AdverseReaction.objects.visible_to(actor)
            .select_for_update(of=("self",))
            .filter(pk=reaction_id, institution=inst)
            .first()
        )
        if reaction is None:
            raise NotFoundField("reaction_id")
        if Incident.objects.filter(reaction=reaction).exists():
            raise ActionError(
                "REACTION_ALREADY_ESCALATED", _("该不良反应已登记为不良事件"), field="reaction_id", status=409
            )
        out["reaction"] = reaction
        case_id = case_id or reaction.case_id
    if case_id is not None:
        case = Case.objects.visible_to(actor).filter(pk=case_id, institution=inst).first()
        if case is None or (reaction is not None and reaction.case_id != case.pk):
            raise NotFoundField("case_id")
        out["case"] = case
    lot = device = None
    if lot_id is not None:
        lot = (
            Lot.objects.visible_to(actor)
            .select_related("product")
            .filter(pk=lot_id, institution=inst)
            .first()
        )
        if lot is None:
            raise NotFoundField("lot_id")
        out["lot"] = lot
    if device_id is not None:
        device = (
            Device.objects.visible_to(actor)
            .select_related("product")
            .filter(pk=device_id, institution=inst)
            .first()
        )
        if device is None:
            raise NotFoundField("device_id")
        out["device"] = device
    product = None
    if product_id is not None:
        product = Product.objects.visible_to(actor).filter(pk=product_id).first()
        if product is None:
            raise NotFoundField("product_id")
    implied = lot.product if lot is not None else device.product if device is not None else None
    if product is not None and implied is not None and product.pk != implied.pk:
        raise FieldErrors({"product_id": [_("产品与批次或设备不一致")]})
    if product or implied:
        out["product"] = product or implied
    return out


def default_kind(product: Product | None) -> str:
    """A reaction escalated without a stated kind: a drug → an adverse drug reaction; else a device event."""
    if product is not None and product.kind == ProductKind.DRUG:
        return IncidentKind.DRUG_ADR
    return IncidentKind.DEVICE_AE


def reaction_prefill(reaction: AdverseReaction) -> dict[str, Any]:
    """What the incident form starts with for a reaction: its case, first lot and product, the event."""
    lot = next(iter(reaction.lots.all()), None)
    product = lot.product if lot is not None else None
    kind = default_kind(product)
    return {
        "kind": kind,
        "grade": IncidentGrade.II,
        "severity": Severity.SERIOUS_OR_NEW if kind == IncidentKind.DRUG_ADR else Severity.SERIOUS,
        "title": _("%(grade)s不良反应:病例 %(code)s")
        % {"grade": reaction.get_grade_display(), "code": reaction.case.code},
        "description": reaction.description,
        "discovered_at": reaction.reported_at,
        "case_id": reaction.case_id,
        "lot_id": lot.pk if lot else None,
        "product_id": product.pk if product else None,
    }


@transaction.atomic
def escalate_reaction(actor: Actor, reaction_id: int, **overrides: Any) -> Incident:
    """One action from a reaction's page: an incident prefilled from it (case, lot, product, event, discovered
    when the reaction was reported); any field may be overridden."""
    reaction = (
        AdverseReaction.objects.visible_to(actor)
        .select_related("case", "institution")
        .prefetch_related("lots__product")
        .filter(pk=reaction_id)
        .first()
    )
    if reaction is None:
        raise NotFoundField("reaction_id")
    data = reaction_prefill(reaction)
    data.update({k: v for k, v in overrides.items() if v not in (None, "")})
    return report_incident(actor, institution_id=reaction.institution_id, reaction_id=reaction.pk, **data)


# ---- grading, report, closing -------------------------------------------------------------------


@transaction.atomic
def grade_incident(actor: Actor, incident_id: int, *, grade: str, severity: str, kind: str = "") -> Incident:
    """医务科 / 授权专员 / admins set the internal grade and the severity (and may correct the kind); the report
    clock is recomputed from discovery. Not once the report is submitted (409)."""
    incident = _incident_for_update(actor, incident_id)
    _require_manager(actor, incident)
    kind = kind or incident.kind
    errors: dict[str, list[str]] = {}
    _choice(kind, IncidentKind, "kind", errors)
    _choice(grade, IncidentGrade, "grade", errors)
    if kind == IncidentKind.HAZARD and not severity:
        severity = Severity.NONE
    _severity(kind, severity, errors)
    _grade_rules(kind, grade, errors)
    if incident.is_cluster and kind != incident.kind:
        errors.setdefault("kind", []).append(_("群体不良事件的类别不能更改"))
    _raise(errors)
    if incident.report_submitted_at is not None:
        raise ActionError("REPORT_SUBMITTED", _("已上报的事件不能再调整分级"), field="grade", status=409)
    if incident.status == IncidentStatus.CLOSED:
        raise ActionError("INCIDENT_CLOSED", _("该事件已结案"), field="incident_id", status=409)
    if (incident.kind, incident.grade, incident.severity) == (kind, grade, severity):
        return incident
    before = audit.snapshot(incident)
    old_clock = incident.report_clock
    incident.kind, incident.grade, incident.severity = kind, grade, severity
    incident.graded_at = timezone.now()
    incident.graded_by_id = actor.user_id
    clock = ip.clock_for(kind, severity, cluster=incident.is_cluster)
    if (clock.id if clock else "") != old_clock:
        _set_clock(incident)
    incident.save()
    audit.record(actor, "aftercare.incident.graded", incident, before=before)
    return incident


@transaction.atomic
def submit_report(
    actor: Actor,
    incident_id: int,
    *,
    submitted_at: dt.datetime | None,
    channel: str,
    reference: str = "",
) -> Incident:
    """Mark the regulatory report submitted (when, how, the external reference number, by whom): the clock
    stops; on time when submitted by the deadline."""
    incident = _incident_for_update(actor, incident_id)
    _require_manager(actor, incident)
    if not incident.report_clock:
        raise ActionError(
            "NO_REPORT_REQUIRED", _("该事件无须向监管部门上报"), field="incident_id", status=409
        )
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    _check_time(submitted_at, "submitted_at", errors, now=now)
    if submitted_at is not None and submitted_at < incident.discovered_at:
        errors.setdefault("submitted_at", []).append(_("上报时间不能早于发现时间"))
    _choice(channel, ReportChannel, "channel", errors)
    reference = _text(reference, "reference", 64, errors, required=False)
    _raise(errors)
    before = audit.snapshot(incident)
    changed = Incident.objects.filter(pk=incident.pk, report_submitted_at__isnull=True).update(
        report_submitted_at=submitted_at,
        report_channel=channel,
        report_reference=reference,
        report_submitted_by_id=actor.user_id,
        updated_at=now,
    )
    if changed != 1:
        raise ActionError("ALREADY_SUBMITTED", _("该事件已上报"), field="incident_id", status=409)
    incident.refresh_from_db()
    audit.record(actor, "aftercare.incident.submitted", incident, before=before)
    return incident


@transaction.atomic
def close_incident(actor: Actor, incident_id: int) -> Incident:
    incident = _incident_for_update(actor, incident_id)
    _require_manager(actor, incident)
    if incident.status == IncidentStatus.CLOSED:
        raise ActionError("INCIDENT_CLOSED", _("该事件已结案"), field="incident_id", status=409)
    if incident.report_clock and incident.report_submitted_at is None:
        raise ActionError(
            "REPORT_NOT_SUBMITTED", _("须先向监管部门上报才能结案"), field="incident_id", status=409
        )
    before = audit.snapshot(incident)
    incident.status = IncidentStatus.CLOSED
    incident.closed_at = timezone.now()
    incident.save()
    audit.record(actor, "aftercare.incident.closed", incident, before=before)
    return incident


# ---- evidence sealing (RP-04) -----------------------------------------------------------------------


def _parties(
    errors: dict[str, list[str]],
    *,
    client_party_name: str,
    client_party_relation: str,
    institution_confirmed: bool,
    client_confirmed: bool,
) -> tuple[str, str]:
    name = _text(client_party_name, "client_party_name", 64, errors)
    relation = _text(client_party_relation, "client_party_relation", 32, errors)
    if institution_confirmed is not True:
        errors.setdefault("institution_confirmed", []).append(_("须由医疗机构代表当场确认"))
    if client_confirmed is not True:
        errors.setdefault("client_confirmed", []).append(_("须由患方当场确认"))
    return name, relation


@transaction.atomic
def record_seal(
    actor: Actor,
    incident_id: int,
    *,
    items: str,
    sealed_at: dt.datetime | None,
    place: str,
    client_party_name: str,
    client_party_relation: str,
    keeper: str,
    institution_confirmed: bool,
    client_confirmed: bool,
    lot_id: int | None = None,
) -> EvidenceSeal:
    """Both parties seal the physical items (vial, syringe, packaging …) of a suspected injection or drug harm;
    the signed-in user is the institution's representative. Append-only; audited."""
    incident = _incident_for_update(actor, incident_id)
    if actor.user_id is None:
        raise ActionError("NOT_A_PERSON", _("封存须由本人账号记录"), status=403)
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    items = _text(items, "items", 2000, errors)
    place = _text(place, "place", 128, errors)
    keeper = _text(keeper, "keeper", 128, errors)
    _check_time(sealed_at, "sealed_at", errors, now=now)
    name, relation = _parties(
        errors,
        client_party_name=client_party_name,
        client_party_relation=client_party_relation,
        institution_confirmed=institution_confirmed,
        client_confirmed=client_confirmed,
    )
    _raise(errors)
    lot = None
    if lot_id is not None:
        lot = Lot.objects.visible_to(actor).filter(pk=lot_id, institution_id=incident.institution_id).first()
        if lot is None:
            raise NotFoundField("lot_id")
    assert sealed_at is not None
    seal = EvidenceSeal.objects.create(
        incident=incident,
        items=items,
        lot=lot,
        sealed_at=sealed_at,
        place=place,
        institution_rep_id=actor.user_id,
        institution_rep_name=_user_name(actor),
        client_party_name=name,
        client_party_relation=relation,
        keeper=keeper,
        institution_confirmed=True,
        client_confirmed=True,
        recorded_by_id=actor.user_id,
    )
    audit.record(actor, "aftercare.evidenceseal.sealed", seal, before={})
    return seal


@transaction.atomic
def record_unseal(
    actor: Actor,
    seal_id: int,
    *,
    unsealed_at: dt.datetime | None,
    place: str,
    purpose: str,
    client_party_name: str,
    client_party_relation: str,
    institution_confirmed: bool,
    client_confirmed: bool,
) -> EvidenceUnseal:
    seal = (
        EvidenceSeal.objects.writable_by(actor)
        .select_for_update(of=("self",))
        .select_related("incident__institution")
        .filter(pk=seal_id)
        .first()
    )
    if seal is None:
        raise NotFoundField("seal_id")
    if actor.user_id is None:
        raise ActionError("NOT_A_PERSON", _("启封须由本人账号记录"), status=403)
    if EvidenceUnseal.objects.filter(seal=seal).exists():
        raise ActionError("ALREADY_UNSEALED", _("该封存已启封"), field="seal_id", status=409)
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    place = _text(place, "place", 128, errors)
    purpose = _text(purpose, "purpose", 200, errors)
    _check_time(unsealed_at, "unsealed_at", errors, now=now)
    if unsealed_at is not None and unsealed_at < seal.sealed_at:
        errors.setdefault("unsealed_at", []).append(_("启封时间不能早于封存时间"))
    name, relation = _parties(
        errors,
        client_party_name=client_party_name,
        client_party_relation=client_party_relation,
        institution_confirmed=institution_confirmed,
        client_confirmed=client_confirmed,
    )
    _raise(errors)
    assert unsealed_at is not None
    row = EvidenceUnseal.objects.create(
        seal=seal,
        unsealed_at=unsealed_at,
        place=place,
        purpose=purpose,
        institution_rep_id=actor.user_id,
        institution_rep_name=_user_name(actor),
        client_party_name=name,
        client_party_relation=relation,
        institution_confirmed=True,
        client_confirmed=True,
        recorded_by_id=actor.user_id,
    )
    audit.record(actor, "aftercare.evidenceseal.unsealed", seal, changes={"unsealed_at": _when(unsealed_at)})
    return row


# ---- cluster detection --------------------------------------------------------------------------


def cluster_settings(institution_id: int, at: dt.datetime) -> tuple[int, int]:
    """(threshold, window hours) of the institution: its policy, else the product defaults."""
    per_inst, default = inst_policy.requirement_values_in_force(
        timezone.localtime(at).date(), ip.CLUSTER_RULES
    )
    values = {**ip.CLUSTER_DEFAULTS, **{k: v for k, v in per_inst.get(institution_id, default).items() if v}}
    return int(values[ip.CLUSTER_THRESHOLD_RULE]), int(values[ip.CLUSTER_WINDOW_RULE])


def detect_for(
    institution: Institution, *, lot_id: int | None, product_id: int | None, at: dt.datetime
) -> Incident | None:
    """After an event on a lot (or product): a cluster on the lot, else on the product."""
    found = None
    if lot_id is not None:
        found = _detect(institution, lot_id=lot_id, product_id=None, at=at)
    if found is None and product_id is not None:
        found = _detect(institution, lot_id=None, product_id=product_id, at=at)
    return found


@transaction.atomic
def detect_cluster(
    actor: Actor, *, institution_id: int, lot_id: int | None = None, product_id: int | None = None
) -> Incident:
    """Run cluster detection now for one lot or product (the API's "check now"); 409 below the threshold."""
    inst = _institution_for_report(actor, institution_id)
    if (lot_id is None) == (product_id is None):
        raise FieldErrors({"lot_id": [_("请指定一个批次或一个产品")]})
    if lot_id is not None and not Lot.objects.visible_to(actor).filter(pk=lot_id, institution=inst).exists():
        raise NotFoundField("lot_id")
    if product_id is not None and not Product.objects.visible_to(actor).filter(pk=product_id).exists():
        raise NotFoundField("product_id")
    found = _detect(inst, lot_id=lot_id, product_id=product_id, at=timezone.now())
    if found is None:
        raise ActionError(
            "BELOW_CLUSTER_THRESHOLD", _("统计窗口内的事件未达到群体不良事件例数"), field="lot_id", status=409
        )
    return found


def _detect(
    inst: Institution, *, lot_id: int | None, product_id: int | None, at: dt.datetime
) -> Incident | None:
    """Events on the lot (or product) at the institution within its window: incidents (not clusters) and
    adverse reactions (a reaction escalated into a counted incident counts once). At the threshold: the open
    cluster incident of the window gains the new members, or a new one is created (its clock starts now) and
    the officers are told once."""
    threshold, hours = cluster_settings(inst.pk, at)
    since = at - dt.timedelta(hours=hours)
    incidents = Incident.objects.filter(
        institution=inst, is_cluster=False, discovered_at__gte=since, discovered_at__lte=at
    )
    reactions = AdverseReaction.objects.filter(institution=inst, reported_at__gte=since, reported_at__lte=at)
    if lot_id is not None:
        incidents = incidents.filter(lot_id=lot_id)
        reactions = reactions.filter(lots__id=lot_id)
    else:
        incidents = incidents.filter(product_id=product_id)
        reactions = reactions.filter(lots__product_id=product_id)
    member_incidents = list(incidents.values_list("pk", "reaction_id"))
    escalated = {rx for _pk, rx in member_incidents if rx}
    member_reactions = sorted(set(reactions.values_list("pk", flat=True)) - escalated)
    if len(member_incidents) + len(member_reactions) < threshold:
        return None
    cluster = _open_cluster(inst, lot_id=lot_id, product_id=product_id, since=since)
    system = Actor.system("cluster-detection")
    created = cluster is None
    if cluster is None:
        lot = Lot.objects.select_related("product").filter(pk=lot_id).first() if lot_id else None
        product = lot.product if lot is not None else Product.objects.get(pk=product_id or 0)
        kind = default_kind(product)
        name = product.brand_name or product.generic_name
        cluster = Incident(
            institution=inst,
            kind=kind,
            grade=IncidentGrade.II,
            severity=Severity.SERIOUS_OR_NEW if kind == IncidentKind.DRUG_ADR else Severity.SERIOUS,
            title=(f"群体不良事件:{name} 批号 {lot.lot_no}" if lot is not None else f"群体不良事件:{name}")[
                :200
            ],
            description=(
                f"{hours} 小时内同一{'批次' if lot is not None else '产品'}发生 "
                f"{len(member_incidents) + len(member_reactions)} 例不良事件/不良反应(本机构判定例数 {threshold})。"
            ),
            discovered_at=at,
            lot=lot,
            product=product,
            is_cluster=True,
            reporter_name=SYSTEM_REPORTER,
            reported_at=at,
        )
        _set_clock(cluster)
        cluster.save()
    Incident.objects.filter(pk__in=[pk for pk, _rx in member_incidents], cluster__isnull=True).update(
        cluster=cluster, updated_at=timezone.now()
    )
    cluster.cluster_reactions.add(*member_reactions)
    audit.record(
        system,
        "aftercare.incident.cluster" if created else "aftercare.incident.cluster_grown",
        cluster,
        changes={"incidents": [pk for pk, _rx in member_incidents], "reactions": member_reactions},
    )
    if created:
        roles = _roles_by_org([inst.organization_id])
        send_many([_cluster_message(cluster, roles, len(member_incidents) + len(member_reactions))])
    return cluster


def _open_cluster(
    inst: Institution, *, lot_id: int | None, product_id: int | None, since: dt.datetime
) -> Incident | None:
    qs = Incident.objects.select_for_update(of=("self",)).filter(
        institution=inst, is_cluster=True, status=IncidentStatus.OPEN, discovered_at__gte=since
    )
    qs = (
        qs.filter(lot_id=lot_id) if lot_id is not None else qs.filter(lot__isnull=True, product_id=product_id)
    )
    return qs.order_by("-discovered_at", "-pk").first()


def after_reaction(reaction: AdverseReaction, lot_ids: list[int]) -> None:
    """The reaction hook (``actions._report``): cluster detection on each lot of the new reaction, then on the
    lots' products."""
    if not lot_ids:
        return
    lots = list(Lot.objects.filter(pk__in=lot_ids).values_list("pk", "product_id"))
    for lot_id, product_id in lots:
        detect_for(reaction.institution, lot_id=lot_id, product_id=product_id, at=reaction.reported_at)


# ---- notices ------------------------------------------------------------------------------------


def clock_label(incident: Incident) -> dict[str, dict[str, str]] | str:
    clock = ip.CLOCKS.get(incident.report_clock)
    if clock is None:
        return ""
    return each_language(lambda: str(within_label(clock)))


def within_label(clock: ip.ReportClock) -> str:
    if clock.within == ip.AT_ONCE:
        return _("立即(按 30 分钟计)")
    if clock.within % dt.timedelta(days=1) == dt.timedelta(0):
        return _("%(n)s 日内") % {"n": clock.within.days}
    return _("%(n)s 小时内") % {"n": int(clock.within.total_seconds() // 3600)}


def _params(incident: Incident) -> dict[str, Any]:
    clock = ip.CLOCKS.get(incident.report_clock)
    return {
        "title": incident.title,
        "kind": label(IncidentKind(incident.kind).label),
        "grade": label(IncidentGrade(incident.grade).label),
        "due": _when(incident.report_due_at) if incident.report_due_at else "—",
        "within": clock_label(incident) or "—",
        "source": each_language(lambda: clock.source(None)) if clock else "—",
    }


def _reported_message(incident: Incident, roles: dict[int, dict[str, list[int]]]) -> Message:
    return Message(
        tuple(sorted(set(_officers(roles, incident.institution.organization_id)))),
        kind=NotificationKind.AFTERCARE,
        message="aftercare.incident_reported" if incident.report_clock else "aftercare.incident_internal",
        params=_params(incident),
        url=f"/aftercare/incidents/{incident.pk}/",
        dedupe_key=f"incident:{incident.pk}:reported",
    )


def _cluster_message(incident: Incident, roles: dict[int, dict[str, list[int]]], n: int) -> Message:
    return Message(
        tuple(sorted(set(_officers(roles, incident.institution.organization_id)))),
        kind=NotificationKind.AFTERCARE,
        message="aftercare.incident_cluster",
        params={**_params(incident), "n": n},
        url=f"/aftercare/incidents/{incident.pk}/",
        dedupe_key=f"incident:{incident.pk}:cluster",
    )


def tick_reports(at: dt.datetime) -> dict[str, int]:
    """The report clocks at ``at``: the warning once 75 % of the clock has elapsed and the escalation at the
    deadline, each once, to 医务科 and 授权专员 (admins if neither). Fixed query count."""
    rows = list(
        Incident.objects.filter(
            report_submitted_at__isnull=True,
            report_breached_at__isnull=True,
            report_warn_at__lte=at,
        )
        .exclude(report_clock="")
        .select_related("institution")
        .select_for_update(of=("self",), skip_locked=True)
        .order_by("report_due_at", "pk")
    )
    warned: list[Incident] = []
    breached: list[Incident] = []
    for incident in rows:
        assert incident.report_due_at is not None
        if at >= incident.report_due_at:
            breached.append(incident)
        elif incident.report_warned_at is None:
            warned.append(incident)
    if not warned and not breached:
        return {"reports_warned": 0, "reports_overdue": 0}
    roles = _roles_by_org({i.institution.organization_id for i in warned + breached})
    messages = [
        Message(
            tuple(sorted(set(_officers(roles, i.institution.organization_id)))),
            kind=NotificationKind.AFTERCARE,
            message=f"aftercare.incident_report_{what}",
            params=_params(i),
            url=f"/aftercare/incidents/{i.pk}/",
            dedupe_key=f"incident:{i.pk}:{i.report_clock}:{what}",
        )
        for what, group in (("warning", warned), ("breach", breached))
        for i in group
    ]
    send_many(messages)
    now = timezone.now()
    for i in warned:
        i.report_warned_at = at
        i.updated_at = now
    for i in breached:
        i.report_breached_at = at
        i.report_warned_at = i.report_warned_at or at
        i.updated_at = now
    Incident.objects.bulk_update(warned + breached, ["report_warned_at", "report_breached_at", "updated_at"])
    by_inst: dict[int, list[Incident]] = defaultdict(list)
    for i in breached:
        by_inst[i.institution_id].append(i)
    system = Actor.system("scheduler")
    for items in by_inst.values():
        audit.record(
            system,
            "aftercare.incident.report_overdue",
            items[0].institution,
            changes={"incidents": [i.pk for i in items]},
        )
    return {"reports_warned": len(warned), "reports_overdue": len(breached)}


def visible_q(actor: Actor) -> Q:
    """Managers and overseeing auditors see the institution's whole register; other staff see what they
    reported."""
    if actor.is_unrestricted:
        return Q()
    orgs = actor.org_ids_with_roles(INCIDENT_MANAGERS) | actor.overseen_org_ids
    return Q(institution__organization_id__in=orgs) | Q(reporter_id=actor.user_id or 0)
