"""Complaint pages: the list with SLA badges and filters, the intake form, the detail page with its timeline and
only the actions the signed-in person may take; foreign complaints are 404s; errors re-render with a 4xx."""

from __future__ import annotations

import datetime as dt

import pytest

from meiguard.complaints import actions
from meiguard.complaints.models import Complaint

from .conftest import NAME, PHONE, T0, take

pytestmark = pytest.mark.django_db


def test_the_list_shows_sla_badges_and_filters(clin, clock):
    ok = take(clin, "zhao")
    actions.acknowledge(clin.actor("zhao"), ok.pk)
    late = take(clin, "zhao")
    clock.set(T0 + dt.timedelta(hours=30))
    c = clin.world.client("zhao")
    html = c.get("/complaints/").content.decode()
    assert ok.tracking_no in html and late.tracking_no in html
    assert 'class="badge deny">已超时' in html and 'class="badge ok">按时完成' in html
    html = c.get("/complaints/?sla=overdue").content.decode()
    assert late.tracking_no in html and ok.tracking_no not in html
    html = c.get("/complaints/?status=acknowledged&category=service").content.decode()
    assert ok.tracking_no in html and late.tracking_no not in html
    assert c.get("/complaints/?sla=<script>&institution=abc").status_code == 200


def test_intake_form_takes_a_complaint_and_reports_errors(clin, clock):
    c = clin.world.client("zhang")
    r = c.get("/complaints/new/")
    assert (
        r.status_code == 200
        and "24 小时" in r.content.decode()
        and "医疗机构投诉管理办法" in r.content.decode()
    )
    r = c.post(
        "/complaints/new/", {"institution": clin.clinic.jia.pk, "channel": "phone", "category": "service"}
    )
    assert r.status_code == 422 and "此字段为必填项" in r.content.decode()
    assert not Complaint.objects.exists()
    r = c.post(
        "/complaints/new/",
        {
            "institution": clin.clinic.jia.pk,
            "channel": "walk_in",
            "category": "privacy",
            "complainant_name": NAME,
            "complainant_contact": PHONE,
            "description": "照片未经同意被用于宣传",
            "multi_department": "on",
            "practitioner_ids": [str(clin.clinic.li.pk)],
            "received_at": "2026-12-04T09:30",
        },
    )
    made = Complaint.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/complaints/{made.pk}/"
    assert made.multi_department and made.owner_id == clin.world.users["zhang"].pk
    assert list(made.practitioners.all()) == [clin.clinic.li]
    assert made.received_at == T0.replace(hour=9, minute=30)
    r = c.post("/complaints/new/", {"institution": clin.clinic.jia.pk, "received_at": "yesterday"})
    assert r.status_code == 422 and "YYYY-MM-DD" in r.content.decode()
    assert (
        clin.world.client("sun").post("/complaints/new/", {"institution": clin.clinic.jia.pk}).status_code
        == 422
    )


def test_the_intake_form_is_refused_to_those_who_cannot_take_complaints(clin):
    assert clin.world.client("qian").get("/complaints/new/").status_code == 403


def test_detail_shows_the_timeline_and_only_allowed_actions(clin, clock):
    cmp = take(clin, "zhang")
    zhang = clin.world.client("zhang")
    html = zhang.get(f"/complaints/{cmp.pk}/").content.decode()
    assert NAME in html and "受理" in html and "医疗机构投诉管理办法" in html
    assert f"/complaints/{cmp.pk}/acknowledge/" in html and f"/complaints/{cmp.pk}/escalate/" in html
    assert f"/complaints/{cmp.pk}/resolve/" not in html and f"/complaints/{cmp.pk}/close/" not in html
    r = zhang.post(f"/complaints/{cmp.pk}/acknowledge/", {"note": "已回电"})
    assert r.status_code == 302
    html = zhang.get(f"/complaints/{cmp.pk}/").content.decode()
    assert "回应投诉人" in html and "已回电" in html
    assert f"/complaints/{cmp.pk}/acknowledge/" not in html and f"/complaints/{cmp.pk}/resolve/" in html
    r = zhang.post(f"/complaints/{cmp.pk}/close/", {"satisfaction": "5"})
    assert r.status_code == 409 and "不能结案" in r.content.decode()
    r = zhang.post(f"/complaints/{cmp.pk}/resolve/", {"resolution": ""})
    assert r.status_code == 422
    r = zhang.post(f"/complaints/{cmp.pk}/bogus/", {})
    assert r.status_code == 404


def test_foreign_and_unescalated_complaints_are_404(clin, clock):
    cmp = take(clin, "zhao")
    for who in ("sun", "qian", "li"):
        assert clin.world.client(who).get(f"/complaints/{cmp.pk}/").status_code == 404, who
        assert clin.world.client(who).post(f"/complaints/{cmp.pk}/acknowledge/", {}).status_code == 404, who
    actions.escalate(clin.actor("zhao"), cmp.pk, reason="协商未果")
    html = clin.world.client("qian").get(f"/complaints/{cmp.pk}/").content.decode()
    assert "已提交协会" in html and f"/complaints/{cmp.pk}/resolve/" in html
    assert f"/complaints/{cmp.pk}/handover/" not in html
    assert cmp.tracking_no in clin.world.client("qian").get("/complaints/").content.decode()


def test_pages_render_in_english(clin, clock):
    cmp = take(clin, "zhao")
    c = clin.world.client("zhao")
    html = c.get(f"/complaints/{cmp.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Measures for the Handling of Complaints at Medical Institutions" in html
