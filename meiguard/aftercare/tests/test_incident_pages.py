"""Incident pages: the register with its clock states, the report form (any staff; prefilled from a reaction),
the incident page with the pre-filled report form and the managers' forms, the seal form, the PDF in Chinese
with an embedded Noto CJK font; another institution gets 404s."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from fontTools.ttLib import TTFont

from meiguard.aftercare import incident_report, incidents
from meiguard.aftercare.actions import report_reaction
from meiguard.aftercare.models import EvidenceSeal, Incident
from meiguard.reviews.tests.test_reports import _streams, _text

from .conftest import T0, TOXIN, treat

pytestmark = pytest.mark.django_db


def _incident(clin, **kw) -> Incident:
    data = {
        "institution_id": clin.clinic.jia.pk,
        "kind": "drug_adr",
        "grade": "II",
        "severity": "serious_new",
        "title": "注射后过敏性休克",
        "description": "注射后十分钟出现呼吸困难",
        "discovered_at": T0,
        "lot_id": clin.clinic.lot.pk,
    }
    data.update(kw)
    return incidents.report_incident(clin.actor("li"), **data)


def test_the_register_shows_clock_states_and_the_nav_entry_to_managers(clin, clock, liu):
    due = _incident(clin)
    hazard = _incident(clin, kind="hazard", grade="IV", severity="", title="抢救车药品过期", lot_id=None)
    zhao = clin.world.client("zhao")
    html = zhao.get("/aftercare/incidents/").content.decode()
    assert "注射后过敏性休克" in html and "抢救车药品过期" in html
    assert "待上报" in html and "无须上报" in html
    assert 'href="/aftercare/incidents/"' in html  # the nav entry
    overdue = zhao.get("/aftercare/incidents/?report=overdue").content.decode()
    assert "注射后过敏性休克" not in overdue
    clock.set(T0 + dt.timedelta(days=16))
    zhao = clin.world.client("zhao")  # a fresh session at the new time
    overdue = zhao.get("/aftercare/incidents/?report=overdue").content.decode()
    assert "注射后过敏性休克" in overdue and "已逾期未上报" in overdue
    # a doctor: no nav entry, but the register of his own reports and the report form
    li = clin.world.client("li")
    page = li.get("/aftercare/incidents/").content.decode()
    assert "注射后过敏性休克" in page and "抢救车药品过期" in page  # both reported by him
    assert ">不良事件</a>" not in page  # the main menu entry is for managers
    assert due.pk and hazard.pk


def test_a_nurse_reports_a_hazard_through_the_form(clin, clock, liu):
    zhang = clin.world.client("zhang")
    assert zhang.get("/aftercare/incidents/new/").status_code == 200
    r = zhang.post(
        "/aftercare/incidents/new/",
        {
            "institution": clin.clinic.jia.pk,
            "kind": "hazard",
            "grade": "IV",
            "severity": "",
            "title": "消毒柜门未关",
            "description": "巡查发现,已关闭",
            "discovered_at": "2026-12-01T08:30",
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    hazard = Incident.objects.get(title="消毒柜门未关")
    assert hazard.reporter_name == "zhang" and hazard.report_clock == ""
    assert timezone_local(hazard.discovered_at) == "2026-12-01 08:30"
    r = zhang.post(
        "/aftercare/incidents/new/",
        {
            "institution": clin.clinic.jia.pk,
            "kind": "hazard",
            "grade": "II",
            "title": "",
            "discovered_at": "x",
        },
    )
    assert r.status_code == 422 and "时间格式无效" in r.content.decode()


def timezone_local(at: dt.datetime) -> str:
    from django.utils import timezone

    return f"{timezone.localtime(at):%Y-%m-%d %H:%M}"


def test_a_severe_reaction_is_escalated_from_its_page(clin, clock, liu):
    case = treat(clin, TOXIN)
    rx = report_reaction(clin.actor("li"), case_id=case.pk, grade="severe", description="血管栓塞征象")
    li = clin.world.client("li")
    page = li.get(f"/aftercare/reactions/{rx.pk}/").content.decode()
    assert "登记为不良事件" in page
    form = li.get(f"/aftercare/incidents/new/?reaction={rx.pk}").content.decode()
    assert "血管栓塞征象" in form and "药品不良反应" in form
    r = li.post(f"/aftercare/reactions/{rx.pk}/incident/")
    assert r.status_code == 302
    inc = Incident.objects.get(reaction=rx)
    assert r["Location"] == f"/aftercare/incidents/{inc.pk}/"
    assert "已登记为不良事件" in li.get(f"/aftercare/reactions/{rx.pk}/").content.decode()


def test_the_incident_page_prefills_the_report_and_offers_managers_their_forms(clin, clock, liu):
    case = treat(clin, TOXIN)
    inc = _incident(clin, case_id=case.pk)
    zhao, li = clin.world.client("zhao"), clin.world.client("li")
    html = zhao.get(f"/aftercare/incidents/{inc.pk}/").content.decode()
    for expected in (
        "药品不良反应/事件报告表",
        case.code,
        "国药准字S10970037",
        "兰州生物制品研究所",
        "B2026001",
    ):
        assert expected in html, expected
    assert "《药品不良反应报告和监测管理办法》第二十一条" in html
    assert "记录上报" in html and "保存定级" in html
    mine = li.get(f"/aftercare/incidents/{inc.pk}/").content.decode()
    assert "保存定级" not in mine and "记录上报并停止计时" not in mine
    r = li.post(f"/aftercare/incidents/{inc.pk}/grade/", {"grade": "I", "severity": "death"})
    assert r.status_code == 403
    clock.set(T0 + dt.timedelta(hours=2))
    zhao = clin.world.client("zhao")  # a fresh session (sessions end after idling)
    r = zhao.post(
        f"/aftercare/incidents/{inc.pk}/submit/",
        {"submitted_at": "2026-12-01T10:00", "channel": "online", "reference": "ADR-1"},
    )
    assert r.status_code == 302
    inc.refresh_from_db()
    assert inc.report_state(clock.now) == "on_time"
    r = zhao.post(
        f"/aftercare/incidents/{inc.pk}/submit/", {"submitted_at": "2026-12-01T10:00", "channel": "online"}
    )
    assert r.status_code == 409


def test_sealing_through_the_form_needs_both_confirmations(clin, clock, liu):
    inc = _incident(clin)
    li = clin.world.client("li")
    data = {
        "items": "药瓶\n注射器",
        "lot_id": clin.clinic.lot.pk,
        "sealed_at": "2026-12-01T09:00",
        "place": "治疗室",
        "keeper": "医务科",
        "client_party_name": "王女士",
        "client_party_relation": "本人",
        "institution_confirmed": "on",
    }
    r = li.post(f"/aftercare/incidents/{inc.pk}/seal/", data)
    assert r.status_code == 422 and "须由患方当场确认" in r.content.decode()
    r = li.post(f"/aftercare/incidents/{inc.pk}/seal/", {**data, "client_confirmed": "on"})
    assert r.status_code == 302
    seal = EvidenceSeal.objects.get()
    assert seal.items == "药瓶\n注射器" and seal.institution_rep_name == "li"
    assert "王女士" in li.get(f"/aftercare/incidents/{inc.pk}/").content.decode()
    assert li.get(f"/aftercare/seals/{seal.pk}/unseal/").status_code == 200


def test_another_institution_gets_404s(clin, clock):
    inc = _incident(clin)
    sun = clin.world.client("sun")
    for url in (
        f"/aftercare/incidents/{inc.pk}/",
        f"/aftercare/incidents/{inc.pk}/seal/",
        f"/aftercare/incidents/{inc.pk}/report.pdf",
        f"/aftercare/incidents/{inc.pk}/report.xlsx",
    ):
        assert sun.get(url).status_code == 404, url
    assert (
        sun.post(f"/aftercare/incidents/{inc.pk}/grade/", {"grade": "I", "severity": "death"}).status_code
        == 404
    )
    assert "注射后过敏性休克" not in sun.get("/aftercare/incidents/").content.decode()


def test_the_report_pdf_renders_chinese_with_an_embedded_cjk_font(clin, clock, liu):
    case = treat(clin, TOXIN)
    inc = _incident(clin, case_id=case.pk)
    pdf = incident_report.render_pdf(clin.actor("zhao"), inc.pk)
    assert pdf.startswith(b"%PDF")
    embedded = [TTFont(io.BytesIO(s)) for s in _streams(pdf) if s[:4] in (b"OTTO", b"\x00\x01\x00\x00")]
    cjk = [f for f in embedded if "CJK" in f["name"].getDebugName(1)]
    assert cjk, [f["name"].getDebugName(1) for f in embedded]
    text = _text(pdf)
    assert "\ufffd" not in text
    for expected in (
        "药品不良反应/事件报告表",
        "甲诊所",
        "注射后过敏性休克",
        "国药准字S10970037",
        "B2026001",
    ):
        assert expected in text, expected
    r = clin.world.client("zhao").get(f"/aftercare/incidents/{inc.pk}/report.pdf")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
