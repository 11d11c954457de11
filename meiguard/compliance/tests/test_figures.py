"""The report's figures recomputed from raw rows: rows built through the clinical/aftercare actions and directly,
the expected figures counted by plain Python over every row, compared with ``policy.evaluate``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from meiguard.aftercare.models import AdverseReaction, FollowUp
from meiguard.aftercare.tests.test_incident_figures import _expected as incidents_expected
from meiguard.aftercare.tests.test_incident_figures import _rows as incident_rows
from meiguard.authz.models import Authorization, DecisionLog
from meiguard.clinical.models import Case, ChecklistNode, OperationRecord, Usage
from meiguard.complaints import actions as complaint_actions
from meiguard.complaints.models import Complaint
from meiguard.complaints.tests.conftest import take as take_complaint
from meiguard.complaints.tests.test_figures import _expected as complaints_expected
from meiguard.compliance import policy
from meiguard.compliance.figures import FIGURES_BY_CODE, Figure, Target
from meiguard.registry.models import Qualification

from .conftest import BREAST, NOV, TOXIN, local, treat

pytestmark = pytest.mark.django_db

LO, HI = local(2026, 11, 1), local(2026, 12, 1)
END = dt.date(2026, 11, 30)


def in_month(t: dt.datetime | None) -> bool:
    return t is not None and LO <= t < HI


def build_rows(clin, clock):
    """Two real treated cases in November, then raw rows on every side of every boundary."""
    jia = clin.clinic.jia
    clock.set(local(2026, 11, 10, 10))
    toxin = treat(clin, TOXIN)
    clock.set(local(2026, 11, 12, 9))
    breast = treat(clin, BREAST)
    decision = breast.record.decision
    # A surgical case operated in November with only two nodes signed, and one operated in December.
    for code, opened, nodes in (
        ("RAW-NOV", local(2026, 11, 20, 9), 2),
        ("RAW-DEC", local(2026, 12, 1, 0, 5), 3),
    ):
        case = Case.objects.create(
            institution=jia,
            client=breast.client,
            code=code,
            procedure_code=BREAST,
            procedure_name=breast.procedure_name,
            invasiveness="surgical",
            operator=breast.operator,
            status="closed",
        )
        OperationRecord.objects.create(
            case=case, decision=decision, operator=breast.operator, opened_at=opened, status="closed"
        )
        for node in ("before_anesthesia", "before_incision", "before_leaving")[:nodes]:
            ChecklistNode.objects.create(case=case, node=node, completed_at=opened)
    # Usages: one scanned in November, one scanned on 1 December (outside).
    for key, at in (("raw-scan", local(2026, 11, 25, 10)), ("raw-dec", local(2026, 12, 1, 8))):
        clock.set(at)
        Usage.objects.create(
            record=toxin.record,
            case=toxin,
            client=toxin.client,
            institution=jia,
            usage_key=key,
            scanned_code="(01)06901234567892(17)281231(10)L1",
            lot=clin.clinic.lot,
            dose_value=Decimal("5"),
            dose_unit="U",
            decision=toxin.record.decision,
        )
    # Follow-ups: the toxin's 24 h done, the breast's 3 d lost; the rest stay due.
    FollowUp.objects.filter(case=toxin, offset="24h").update(status="done")
    FollowUp.objects.filter(case=breast, offset="3d").update(status="lost")
    # Reactions: on time, late, still running at month end (not counted), overdue, October (outside).
    base = {"institution": jia, "case": toxin, "source": "staff", "grade": "moderate", "description": "红肿"}
    assignee = {"assignee": clin.nurse}
    for reported, handled, due_h in (
        (local(2026, 11, 11, 9), local(2026, 11, 11, 10), 2),
        (local(2026, 11, 12, 9), local(2026, 11, 12, 12), 2),
        (local(2026, 11, 30, 23), None, 2),
        (local(2026, 11, 20, 9), None, 2),
        (local(2026, 10, 31, 9), local(2026, 10, 31, 10), 2),
    ):
        AdverseReaction.objects.create(
            **base,
            **assignee,
            reported_at=reported,
            clock_started_at=reported,
            due_at=reported + dt.timedelta(hours=due_h),
            handled_at=handled,
        )
    # Denials: two with reasons in November, one in December.
    template = DecisionLog.objects.filter(institution=jia).first()
    assert template is not None
    for at, codes in (
        (local(2026, 11, 3, 9), ["AUTHORIZATION_MISSING"]),
        (local(2026, 11, 4, 9), ["AUTHORIZATION_MISSING", "AUTHORIZATION_EXPIRED"]),
        (local(2026, 12, 1, 9), ["AUTHORIZATION_EXPIRED"]),
    ):
        clock.set(at)
        DecisionLog.objects.bulk_create(
            [
                DecisionLog(
                    institution=jia,
                    practitioner=template.practitioner,
                    procedure_code=TOXIN,
                    at=at,
                    outcome="deny",
                    reason_codes=codes,
                    reasons=[],
                    request={},
                    snapshot=template.snapshot,
                    rule_pack=template.rule_pack,
                    actor_label="test",
                    channel=template.channel,
                )
            ]
        )
    # Credentials: one authorization expiring in December, one past its end date and still active, one
    # qualification expiring within 30 days of the month's end.
    auths = list(Authorization.objects.filter(institution=jia, status="active").order_by("pk"))
    Authorization.objects.filter(pk=auths[0].pk).update(valid_until=dt.date(2026, 12, 15))
    Authorization.objects.filter(pk=auths[1].pk).update(valid_until=dt.date(2026, 11, 20))
    q = Qualification.objects.filter(practitioner__main_institution=jia).first()
    Qualification.objects.filter(pk=q.pk).update(valid_until=dt.date(2026, 12, 20))
    # Complaints: one acknowledged and resolved in time, one acknowledged late and never resolved (a breach at
    # month end), one escalated, one received on 1 December (outside).
    zhao = clin.actor("zhao")
    clock.set(local(2026, 11, 2, 9))
    done = take_complaint(clin, "zhao")
    clock.advance(hours=2)
    complaint_actions.acknowledge(zhao, done.pk)
    clock.advance(days=1)
    complaint_actions.resolve_complaint(zhao, done.pk, resolution="当面致歉,已处理")
    clock.set(local(2026, 11, 16, 9))
    late = take_complaint(clin, "zhao")
    clock.advance(hours=30)
    complaint_actions.acknowledge(zhao, late.pk)
    clock.set(local(2026, 11, 25, 9))
    escalated = take_complaint(clin, "zhao")
    clock.advance(hours=1)
    complaint_actions.escalate(zhao, escalated.pk, reason="协商未果")
    clock.set(local(2026, 12, 1, 9))
    take_complaint(clin, "zhao")
    # Incidents on both sides of the month's edges, in both institutions (aftercare's own figure test rows).
    incident_rows(clin)
    return jia


def expected(jia_id: int) -> dict[str, tuple[int, int]]:
    """Every figure counted by plain Python over all rows (no GROUP BY, no date filter in SQL)."""
    surgical = [
        r
        for r in OperationRecord.objects.select_related("case")
        if r.case.institution_id == jia_id and r.case.invasiveness == "surgical" and in_month(r.opened_at)
    ]
    signed = [
        r
        for r in surgical
        if sum(1 for n in ChecklistNode.objects.filter(case=r.case) if n.completed_at) >= 3
    ]
    usages = [u for u in Usage.objects.all() if u.institution_id == jia_id and in_month(u.created_at)]
    contacts = [
        f
        for f in FollowUp.objects.all()
        if f.institution_id == jia_id and f.kind == "contact" and in_month(f.due_at)
    ]
    plans = {f.case_id for f in contacts}
    lost = {f.case_id for f in contacts if f.status == "lost"}
    reactions = [
        r
        for r in AdverseReaction.objects.all()
        if r.institution_id == jia_id
        and in_month(r.reported_at)
        and not (r.handled_at is None and r.due_at >= HI)
    ]
    denials = [
        d
        for d in DecisionLog.objects.all()
        if d.institution_id == jia_id and d.outcome == "deny" and in_month(d.created_at)
    ]
    window = (dt.date(2026, 12, 1), dt.date(2026, 12, 30))
    auths = [a for a in Authorization.objects.all() if a.institution_id == jia_id and a.status == "active"]
    quals = [
        q
        for q in Qualification.objects.select_related("practitioner")
        if q.practitioner.main_institution_id == jia_id
    ]
    expiring = sum(1 for a in auths if a.valid_until and window[0] <= a.valid_until <= window[1]) + sum(
        1 for q in quals if q.valid_until and window[0] <= q.valid_until <= window[1]
    )
    complaints = complaints_expected(
        [c for c in Complaint.objects.all() if c.institution_id == jia_id], LO, HI
    )
    incidents = incidents_expected([jia_id])[jia_id]
    return {
        "serious_incidents": (incidents["serious_incidents"], 0),
        "incident_reports_on_time": (incidents["reports_on_time"], incidents["reports_due"]),
        "incident_reports_overdue": (incidents["reports_overdue_open"], 0),
        "complaints_received": (complaints["complaints"], 0),
        "complaints_ack_on_time": (complaints["ack_on_time"], complaints["ack_due"]),
        "complaints_resolved_on_time": (complaints["resolution_on_time"], complaints["resolution_due"]),
        "complaints_breaches_open": (complaints["breaches_open"], 0),
        "checklist_coverage": (len(signed), len(surgical)),
        "scan_before_use": (sum(1 for u in usages if u.scanned_code), len(usages)),
        "follow_up_completion": (sum(1 for f in contacts if f.status == "done"), len(contacts)),
        "loss_to_follow_up": (len(lost), len(plans)),
        "reactions_on_time": (
            sum(1 for r in reactions if r.handled_at is not None and r.handled_at <= r.due_at),
            len(reactions),
        ),
        "denied_checks": (len(denials), 0),
        "credentials_expiring": (expiring, 0),
        "authorizations_expired_active": (sum(1 for a in auths if a.valid_until and a.valid_until <= END), 0),
    }


def test_the_figures_match_a_recount_from_raw_rows(clin, clock):
    jia = build_rows(clin, clock)
    rows, _own = policy.evaluate([jia.pk, clin.clinic.yi.pk], NOV)
    want = expected(jia.pk)
    got = {
        r["code"]: (r["numerator"], r["denominator"]) if r["unit"] == "percent" else (r["count"], 0)
        for r in rows[jia.pk]
    }
    assert got == want
    # The boundaries are really exercised (not a vacuous match).
    assert want["checklist_coverage"] == (1, 2)
    assert want["scan_before_use"] == (1, 2)
    assert want["loss_to_follow_up"] == (1, 2)
    assert want["reactions_on_time"] == (1, 3)
    assert want["denied_checks"] == (2, 0)
    assert want["authorizations_expired_active"] == (1, 0)
    assert want["complaints_received"] == (3, 0)
    assert want["serious_incidents"] == (3, 0) and want["incident_reports_on_time"] == (1, 3)
    assert want["complaints_ack_on_time"][0] >= 1 and want["complaints_ack_on_time"][1] >= 2
    assert want["complaints_breaches_open"][0] >= 1
    by_code = {r["code"]: r for r in rows[jia.pk]}
    assert by_code["checklist_coverage"]["value"] == 50.0
    assert by_code["checklist_coverage"]["status"] == "off_target"
    assert by_code["reactions_on_time"]["value"] == 33.3
    assert by_code["denied_checks"]["status"] == "info"
    assert by_code["denied_checks"]["details"] == [["AUTHORIZATION_MISSING", 2], ["AUTHORIZATION_EXPIRED", 1]]
    assert by_code["loss_to_follow_up"]["target"]["comparison"] == "lte"
    assert by_code["loss_to_follow_up"]["target"]["value"] == 5
    assert "工作计划" in by_code["loss_to_follow_up"]["target"]["source"]
    assert "seed" not in str(rows).lower()
    # The other institution has nothing: shares without data, counts zero.
    yi = {r["code"]: r for r in rows[clin.clinic.yi.pk]}
    assert yi["checklist_coverage"]["status"] == "no_data" and yi["checklist_coverage"]["value"] is None
    assert yi["denied_checks"]["count"] == 0


def test_the_number_of_queries_does_not_grow_with_institutions(clin, clock):
    jia = build_rows(clin, clock)
    with CaptureQueriesContext(connection) as one:
        policy.evaluate([jia.pk], NOV)
    with CaptureQueriesContext(connection) as two:
        policy.evaluate([jia.pk, clin.clinic.yi.pk], NOV)
    assert len(one) == len(two) <= 17  # 14 + one grouped query for the complaints + two for the incidents


def test_targets_compare_exactly_without_rounding():
    at_least = Target(98, "gte", ())
    assert at_least.met(98, 49, 50)
    assert not at_least.met(98, 979, 1000)  # 97.9 %
    assert Target(5, "lte", ()).met(5, 1, 20)
    assert not Target(5, "lte", ()).met(5, 2, 39)  # 5.13 %
    assert Target(0, "eq", ()).met(0, 0)
    assert not Target(0, "eq", ()).met(0, 1)


def test_a_new_provider_is_one_entry(clin, clock):
    """A figure from another app's provider (dict[int, dict[str, int]]) joins the registry as one entry."""
    jia = clin.clinic.jia

    def incidents(ids, start, end):
        assert (start, end) == (NOV, END)
        return {jia.pk: {"overdue_reports": 2, "incidents": 5}}

    extra = Figure(
        "incidents_overdue",
        "逾期未报",
        "count",
        incidents,
        count="overdue_reports",
        target=Target(0, "eq", ("operating-plan-2026 二",)),
    )
    rows, _ = policy.evaluate([jia.pk], NOV, figures=[*FIGURES_BY_CODE.values(), extra])
    row = rows[jia.pk][-1]
    assert (row["code"], row["count"], row["status"]) == ("incidents_overdue", 2, "off_target")


def test_a_provider_may_take_the_month_as_an_aware_range(clin, clock):
    """Like ``complaints.figures.monthly_counts``: (ids, start, end) as aware datetimes, end excluded."""
    jia = clin.clinic.jia
    seen = []

    def complaints(ids, start, end):
        seen.append((start, end))
        return {jia.pk: {"ack_due": 4, "ack_on_time": 3}}

    extra = Figure(
        "complaint_ack",
        "投诉按时确认率",
        "percent",
        complaints,
        numerator="ack_on_time",
        denominator="ack_due",
        target=Target(100, "gte", ("operating-plan-2026 二",)),
        period="range",
    )
    rows, _ = policy.evaluate([jia.pk], NOV, figures=[extra])
    assert seen == [(LO, HI)]
    assert (rows[jia.pk][0]["value"], rows[jia.pk][0]["status"]) == (75.0, "off_target")
