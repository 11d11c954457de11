"""Review pages: list with filters and pagination, detail grouped by category, htmx "ok", forms."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from meiguard.authz.choices import AuthorizationStatus
from meiguard.authz.models import Authorization
from meiguard.core.models import User
from meiguard.reviews import actions
from meiguard.reviews.choices import ItemCategory, ItemStatus
from meiguard.reviews.models import Campaign, ChecklistItem, Finding

from .conftest import TODAY, deny_missing


def _built(clinic, campaign):
    deny_missing(clinic)
    actions.rebuild_checklist(clinic.world.actor("qian"), campaign.pk, today=TODAY)
    return campaign


def test_the_list_filters_and_paginates(clinic, campaign):
    for year in range(2019, 2026):
        for q in (1, 2, 3, 4):
            Campaign.objects.create(
                institution=clinic.jia,
                kind="association",
                period=f"{year}-Q{q}",
                starts_on=dt.date(year, 3 * q - 2, 1),
                ends_on=dt.date(year, 3 * q - 2, 28),
                status="closed",
            )
    client = clinic.world.client("qian")
    page = client.get("/reviews/").content.decode()
    assert "第 1 / 2 页" in page and "甲诊所" in page
    only_open = client.get("/reviews/", {"status": "open"}).content.decode()
    assert f'href="/reviews/{campaign.pk}/"' in only_open and "共 1 条" in only_open
    by_period = client.get("/reviews/", {"period": "2024-Q2"}).content.decode()
    row = Campaign.objects.get(period="2024-Q2")
    assert f'href="/reviews/{row.pk}/"' in by_period and "共 1 条" in by_period
    assert "2026-Q1" not in clinic.world.client("sun").get("/reviews/").content.decode()


def test_the_detail_groups_the_checklist_and_labels_institution_practice(clinic, campaign):
    _built(clinic, campaign)
    page = clinic.world.client("qian").get(f"/reviews/{campaign.pk}/").content.decode()
    for label in (
        "超范围或授权失效的核验",
        "即将到期仍在使用的授权",
        "继续教育学分或培训学时不足",
        "月度内部检查",
    ):
        assert label in page
    assert "本类没有需要检查的数据" in page  # nothing expiring in this clinic
    assert "机构内部管理实践,非国家法规" in page
    assert "李医生 · 填充物注射(透明质酸等):1 次核验被拒" in page
    assert f"/reviews/{campaign.pk}/report.pdf" in page and "登记问题" in page
    assert "reviews.campaign.rebuilt" in page  # history


def test_members_read_without_the_write_controls(clinic, campaign):
    _built(clinic, campaign)
    page = clinic.world.client("wang").get(f"/reviews/{campaign.pk}/").content.decode()
    assert "李医生" in page
    assert (
        f"/reviews/{campaign.pk}/findings/new/" not in page and f"/reviews/{campaign.pk}/close/" not in page
    )


def test_marking_an_item_ok_with_htmx_returns_the_row(clinic, campaign):
    _built(clinic, campaign)
    item = ChecklistItem.objects.filter(campaign=campaign, category=ItemCategory.MONTHLY_CHECK).first()
    assert item is not None
    r = clinic.world.client("qian").post(
        f"/reviews/items/{item.pk}/ok/", {"note": "账物相符"}, HTTP_HX_REQUEST="true"
    )
    assert r.status_code == 200
    html = r.content.decode()
    assert html.lstrip().startswith(f'<tr id="item-{item.pk}">') and "合格" in html and "账物相符" in html
    item.refresh_from_db()
    assert item.status == ItemStatus.OK


def test_marking_an_item_ok_without_javascript_redirects(clinic, campaign):
    _built(clinic, campaign)
    item = ChecklistItem.objects.filter(campaign=campaign).first()
    assert item is not None
    r = clinic.world.client("qian").post(f"/reviews/items/{item.pk}/ok/", {"note": ""})
    assert r.status_code == 302 and r["Location"] == f"/reviews/{campaign.pk}/"
    assert clinic.world.client("wang").post(f"/reviews/items/{item.pk}/ok/").status_code == 403
    assert clinic.world.client("sun").post(f"/reviews/items/{item.pk}/ok/").status_code == 404


def test_the_finding_form_suspends_from_an_item(clinic, campaign, django_capture_on_commit_callbacks):
    _built(clinic, campaign)
    auth = clinic.auths["procedure"]
    client = clinic.world.client("qian")
    item = ChecklistItem.objects.get(campaign=campaign, category=ItemCategory.DENIED_DECISIONS)
    form = client.get(f"/reviews/{campaign.pk}/findings/new/", {"item": item.pk}).content.decode()
    assert f'<option value="{item.pk}" selected>' in form and "暂停授权" in form
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            f"/reviews/{campaign.pk}/findings/new/",
            {
                "item": item.pk,
                "practitioner": clinic.li.pk,
                "authorization": auth.pk,
                "severity": "high",
                "description": "多次尝试超范围注射",
                "action": "suspend",
            },
        )
    finding = Finding.objects.get()
    assert r.status_code == 302 and r["Location"].endswith(f"#finding-{finding.pk}")
    assert Authorization.objects.get(pk=auth.pk).status == AuthorizationStatus.SUSPENDED
    page = client.get(f"/reviews/{campaign.pk}/").content.decode()
    assert "多次尝试超范围注射" in page and "暂停" in page


def test_the_finding_form_shows_action_errors_on_the_field(clinic, campaign):
    r = clinic.world.client("qian").post(
        f"/reviews/{campaign.pk}/findings/new/",
        {"practitioner": clinic.li.pk, "severity": "low", "description": "x", "action": "suspend"},
    )
    assert r.status_code == 422
    assert "暂停授权须指定要暂停的授权" in r.content.decode()
    assert not Finding.objects.exists()


def test_finding_actions_and_closing_from_the_page(clinic, campaign):
    qian = clinic.world.actor("qian")
    finding = actions.raise_finding(qian, campaign.pk, practitioner_id=clinic.li.pk, description="记录不全")
    client = clinic.world.client("qian")
    r = client.post(f"/reviews/findings/{finding.pk}/action/", {"action": "warn"})
    assert r.status_code == 302
    finding.refresh_from_db()
    assert finding.action == "warn"
    r = client.post(f"/reviews/findings/{finding.pk}/action/", {"action": "warn"})
    assert r.status_code == 302  # refused with a message, nothing changed
    messages = client.get(f"/reviews/{campaign.pk}/").content.decode()
    assert "只能升级处理措施" in messages
    client.post(f"/reviews/findings/{finding.pk}/close/", {"note": "已补全"})
    finding.refresh_from_db()
    assert finding.status == "closed" and finding.closing_note == "已补全"


def test_closing_a_campaign_from_the_page(clinic, campaign):
    qian = clinic.world.actor("qian")
    actions.raise_finding(qian, campaign.pk, practitioner_id=clinic.li.pk, description="x")
    client = clinic.world.client("qian")
    r = client.post(f"/reviews/{campaign.pk}/close/", {"summary": "基本合规"})
    assert r.status_code == 409 and "还有 1 个问题未关闭" in r.content.decode()
    r = client.post(f"/reviews/{campaign.pk}/close/", {"summary": "基本合规", "note": "下季度跟进"})
    assert r.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == "closed"


def test_creating_a_campaign_from_the_page(clinic):
    client = clinic.world.client("zhao")
    form = client.get("/reviews/new/").content.decode()
    assert '<option value="internal"' in form  # zhao may run internal reviews only
    assert '<option value="association"' not in form
    r = client.post("/reviews/new/", {"institution": clinic.jia.pk, "kind": "internal", "period": "2026-Q1"})
    assert r.status_code == 302
    campaign = Campaign.objects.get()
    assert (campaign.kind, campaign.period, campaign.built_at is not None) == ("internal", "2026-Q1", True)
    r = client.post("/reviews/new/", {"institution": clinic.jia.pk, "kind": "internal", "period": "2026-Q1"})
    assert r.status_code == 409 and "已有同类审查" in r.content.decode()
    r = client.post("/reviews/new/", {"institution": clinic.jia.pk, "kind": "internal", "period": "2026-Q9"})
    assert r.status_code == 422
    assert clinic.world.client("li").get("/reviews/new/").status_code == 403


def test_the_admin_inspects_but_never_changes(clinic, campaign):
    User.objects.create_superuser(username="root", password="pw-root-123456")
    client = Client()
    client.login(username="root", password="pw-root-123456")
    assert client.get("/admin/reviews/campaign/").status_code == 200
    assert client.get(f"/admin/reviews/campaign/{campaign.pk}/change/").status_code == 200
    assert client.get("/admin/reviews/campaign/add/").status_code == 403
    r = client.post(f"/admin/reviews/campaign/{campaign.pk}/change/", {"summary": "edited"})
    assert r.status_code == 403


def _detail_queries(client, campaign) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(f"/reviews/{campaign.pk}/").status_code == 200
    return len(ctx.captured_queries)


def test_the_detail_page_query_count_does_not_grow_with_items_and_findings(clinic, campaign):
    _built(clinic, campaign)
    qian = clinic.world.actor("qian")
    client = clinic.world.client("qian")
    actions.raise_finding(qian, campaign.pk, practitioner_id=clinic.li.pk, description="one", action="warn")
    few = _detail_queries(client, campaign)
    items = list(ChecklistItem.objects.filter(campaign=campaign))
    for i, item in enumerate(items[:6]):
        actions.raise_finding(
            qian,
            campaign.pk,
            item_id=item.pk,
            authorization_id=clinic.auths["product"].pk,
            description=f"f{i}",
        )
    many = _detail_queries(client, campaign)
    assert many == few, (few, many)


def test_the_list_and_the_detail_show_progress_done_of_total(clinic, campaign):
    _built(clinic, campaign)
    items = list(ChecklistItem.objects.filter(campaign=campaign).order_by("pk"))
    assert len(items) >= 2
    actions.mark_item_ok(clinic.world.actor("qian"), items[0].pk, note="已核对")
    total = len(items)
    client = clinic.world.client("qian")
    listing = client.get("/reviews/").content.decode()
    assert f'data-progress="1/{total}"' in listing
    assert f"已查 1 / {total}" in listing
    detail = client.get(f"/reviews/{campaign.pk}/").content.decode()
    assert f'<progress value="1" max="{total}"' in detail
