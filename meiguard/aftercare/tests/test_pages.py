"""The aftercare pages per role: my follow-ups, the follow-up form, the reaction form and page, the lists."""

from __future__ import annotations

import datetime as dt

import pytest

from meiguard.aftercare import actions
from meiguard.aftercare.models import AdverseReaction, FollowUp

from .conftest import T0, TOXIN, treat

pytestmark = pytest.mark.django_db


def test_the_nurse_sees_her_overdue_follow_up_and_records_it(clin, clock):
    case = treat(clin, TOXIN)
    clock.set(T0 + dt.timedelta(hours=25))
    zhang = clin.world.client("zhang")
    html = zhang.get("/aftercare/").content.decode()
    assert "已逾期" in html and case.code in html and "24h" in html
    assert (
        case.code not in clin.world.client("li").get("/aftercare/").content.decode()
    )  # not the doctor's task
    fu = FollowUp.objects.get(case=case, offset="24h")
    page = zhang.get(f"/aftercare/follow-ups/{fu.pk}/").content.decode()
    assert "记录随访" in page and "机构规范" in page
    r = zhang.post(
        f"/aftercare/follow-ups/{fu.pk}/", {"reached": "yes", "recovery": "good", "satisfaction": "9"}
    )
    assert r.status_code == 422 and "满意度" in r.content.decode()
    fu.refresh_from_db()
    assert fu.status == "due"
    r = zhang.post(
        f"/aftercare/follow-ups/{fu.pk}/",
        {
            "reached": "yes",
            "recovery": "slow",
            "satisfaction": "4",
            "adverse_signs": "on",
            "reaction_grade": "mild",
            "reaction_description": "轻微红肿",
        },
    )
    assert r.status_code == 302
    fu.refresh_from_db()
    assert (fu.status, fu.satisfaction) == ("done", 4)
    rx = AdverseReaction.objects.get(case=case)
    assert rx.grade == "mild" and rx.assignee_id == clin.nurse.pk


def test_the_reaction_page_shows_the_clock_and_records_the_revisit(clin, clock):
    case = treat(clin, TOXIN)
    li = clin.world.client("li")
    assert li.get(f"/aftercare/reactions/new/?case={case.pk}").status_code == 200
    r = li.post(f"/aftercare/reactions/new/?case={case.pk}", {"grade": "moderate", "description": ""})
    assert r.status_code == 422 and not AdverseReaction.objects.exists()
    r = li.post(f"/aftercare/reactions/new/?case={case.pk}", {"grade": "moderate", "description": "感染倾向"})
    rx = AdverseReaction.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/aftercare/reactions/{rx.pk}/"
    html = li.get(f"/aftercare/reactions/{rx.pk}/").content.decode()
    assert "剩余 120 分钟" in html and "主诊医师复诊" in html and "工作计划" in html
    clock.advance(minutes=40)
    li = clin.world.client("li")
    r = li.post(f"/aftercare/reactions/{rx.pk}/steps/", {"kind": "revisit", "note": "已复诊"})
    assert r.status_code == 302
    html = li.get(f"/aftercare/reactions/{rx.pk}/").content.decode()
    assert 'data-state="on_time"' in html and "按时处置" in html and "李医生" in html
    # A nurse may not record the doctor's revisit: the page says why, nothing is written.
    r = clin.world.client("zhang").post(f"/aftercare/reactions/{rx.pk}/steps/", {"kind": "mdt"})
    assert r.status_code == 403 and "须由医师" in r.content.decode()


def test_lists_filters_and_other_roles(clin, clock):
    case = treat(clin, TOXIN)
    rx = actions.report_reaction(clin.actor("li"), case_id=case.pk, grade="moderate", description="x")
    zhao = clin.world.client("zhao")
    html = zhao.get("/aftercare/reactions/?clock=running").content.decode()
    assert case.code in html
    assert case.code not in zhao.get("/aftercare/reactions/?clock=overdue").content.decode()
    html = zhao.get(f"/aftercare/follow-ups/?case={case.pk}").content.decode()
    assert html.count("/aftercare/follow-ups/") >= 5 and "短期效果评估" in html
    # The association's auditor reads but gets no form.
    qian = clin.world.client("qian")
    page = qian.get(f"/aftercare/reactions/{rx.pk}/")
    assert page.status_code == 200 and "记录处置步骤" not in page.content.decode()
    assert qian.post(f"/aftercare/reactions/{rx.pk}/steps/", {"kind": "note"}).status_code == 403
    # Another institution's admin: not found; the menu entry only for clinical staff.
    sun = clin.world.client("sun")
    assert sun.get(f"/aftercare/reactions/{rx.pk}/").status_code == 404
    assert sun.get(f"/aftercare/reactions/new/?case={case.pk}").status_code == 404
    assert 'href="/aftercare/"' in clin.world.client("zhang").get("/").content.decode()
    assert 'href="/aftercare/"' not in qian.get("/").content.decode()


def test_the_dashboard_panel_lists_my_overdue_and_todays_follow_ups(clin, clock):
    case = treat(clin, TOXIN)
    clock.set(T0 + dt.timedelta(hours=25))  # the 24 h contact is overdue
    html = clin.world.client("zhang").get("/").content.decode()
    assert 'data-panel="aftercare"' in html and f"{case.code} · 术后随访 24h" in html
    assert "已逾期" in html
    clock.set(T0 + dt.timedelta(days=7, hours=-2))  # the 1-week contact is due today
    html = clin.world.client("zhang").get("/").content.decode()
    assert f"{case.code} · 术后随访 1w" in html


def test_the_clinical_lot_page_flags_a_lot_with_repeated_reactions(clin, clock):
    lot = clin.clinic.lot
    for _ in range(3):
        case = treat(clin, TOXIN)
        actions.report_reaction(clin.actor("li"), case_id=case.pk, grade="mild", description="红肿")
    html = clin.world.client("zhao").get(f"/clinical/lots/{lot.pk}/").content.decode()
    assert 'data-testid="lot-reaction-flag"' in html and "近 30 天有 3 例不良反应" in html
    AdverseReaction.objects.filter(pk=AdverseReaction.objects.first().pk).update(
        reported_at=T0 - dt.timedelta(days=40)
    )
    html = clin.world.client("zhao").get(f"/clinical/lots/{lot.pk}/").content.decode()
    assert 'data-testid="lot-reaction-flag"' not in html
