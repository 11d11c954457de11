"""The role dashboard at "/": which panels each role gets, what they show, that nothing crosses tenants,
that panels refresh alone with htmx, and that the page costs a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

import pytest
from django.utils import timezone

from . import helpers as h

pytestmark = pytest.mark.django_db


def panels_of(html: str) -> list[str]:
    return re.findall(r'data-panel="(\w+)"', html)


def panel_html(html: str, key: str) -> str:
    m = re.search(rf'<section class="card panel[^"]*" id="panel-{key}".*?</section>', html, re.S)
    assert m, f"panel {key} not on the page"
    return m.group(0)


@pytest.fixture
def data(clinic):
    """甲: a lot expiring in 5 days, 李医生's training certificate in 20, his device authorization in 50;
    a denied and an allowed check yesterday; an open approval step; an overdue review with two open findings.
    乙 (sun's): a lot expiring in 3 days, a denied check and an open approval step of its own."""
    now = timezone.now()
    d = SimpleNamespace(
        lot=h.expiring_lot(clinic, 5, lot_no="JIA-SOON"),
        training=h.expiring_training(clinic, 20),
        auth=h.expiring_authorization(clinic, 50),
        yi_lot=h.expiring_lot(clinic, 3, yi=True, lot_no="YI-SOON"),
        denied=h.decide(clinic, at=now - dt.timedelta(days=1), deny=True),
        allowed=h.decide(clinic, at=now - dt.timedelta(days=1)),
        yi_denied=h.decide(clinic, at=now - dt.timedelta(days=1), who="sun", yi=True),
        step=h.pending_step(clinic),
        yi_step=h.pending_step(clinic, yi=True),
        campaign=h.overdue_campaign(clinic, findings=2),
    )
    return d


def test_each_role_gets_its_panels(clinic):
    expected = {
        "zhao": ["approvals", "expiries", "denied", "reviews", "devices", "expiry_chart", "decision_chart"],
        "wang": ["approvals", "expiries", "denied", "reviews", "devices", "expiry_chart", "decision_chart"],
        "li": ["capabilities", "my_expiries", "cme", "aftercare"],
        "zhang": ["capabilities", "my_expiries", "aftercare"],
        "qian": ["members", "reviews", "decision_chart"],
    }
    for name, keys in expected.items():
        r = clinic.world.client(name).get("/")
        assert r.status_code == 200, name
        assert panels_of(r.content.decode()) == keys, name


def test_a_person_with_several_roles_sees_the_panels_of_each(clinic):
    from meiguard.core.models import Membership

    Membership.objects.create(
        user=clinic.world.users["li"], organization=clinic.world.org_jia, role="medical_director"
    )
    keys = panels_of(clinic.world.client("li").get("/").content.decode())
    assert keys == [
        "capabilities",
        "my_expiries",
        "cme",
        "aftercare",
        "approvals",
        "expiries",
        "denied",
        "expiry_chart",
        "decision_chart",
    ]


def test_anonymous_visitors_are_sent_to_login(clinic):
    from django.test import Client

    r = Client().get("/")
    assert r.status_code == 302 and "/login/" in r["Location"]


def test_compliance_officer_sees_expiries_approvals_denials_and_overdue_reviews(clinic, data):
    html = clinic.world.client("zhao").get("/").content.decode()
    exp = panel_html(html, "expiries")
    assert "JIA-SOON" in exp and "李医生" in exp and "超声炮" in exp
    assert "YI-SOON" not in exp
    # the 7-day bucket holds the lot, 8–30 the training certificate, 31–60 the authorization
    counts = re.findall(r'<span class="n">(\d+)</span> <span class="l">', exp)
    assert counts == ["1", "1", "1", "0"]
    assert f"/registry/lots/{data.lot.pk}/" in exp
    assert 'href="/lifecycle/?bucket=7"' in exp and 'href="/lifecycle/?kind=lot"' in exp
    approvals = panel_html(html, "approvals")
    assert f"/applications/{data.step.application_id}/" in approvals
    assert f"/applications/{data.yi_step.application_id}/" not in approvals
    assert '<strong class="n">1</strong>' in approvals
    denied = panel_html(html, "denied")
    assert f"/authz/decisions/{data.denied.pk}/" in denied
    assert f"/authz/decisions/{data.allowed.pk}/" not in denied
    assert f"/authz/decisions/{data.yi_denied.pk}/" not in denied
    assert "outcome=deny" in denied
    reviews = panel_html(html, "reviews")
    assert f"/reviews/{data.campaign.pk}/" in reviews and "2025-Q1" in reviews


def test_the_outsider_sees_nothing_of_jia(clinic, data):
    html = clinic.world.client("sun").get("/").content.decode()
    assert panels_of(html) == [
        "approvals",
        "expiries",
        "denied",
        "reviews",
        "devices",
        "expiry_chart",
        "decision_chart",
    ]
    for foreign in ("JIA-SOON", "李医生", "超声炮", "甲诊所", "2025-Q1"):
        assert foreign not in html, foreign
    assert f"/authz/decisions/{data.denied.pk}/" not in html
    assert f"/applications/{data.step.application_id}/" not in html
    # …but sees its own
    assert "YI-SOON" in html
    assert f"/authz/decisions/{data.yi_denied.pk}/" in html
    # sun filed 乙's application himself and is no compliance officer: nothing for him to approve
    assert '<strong class="n">0</strong>' in panel_html(html, "approvals")


def test_the_doctor_sees_what_he_may_do_where_and_his_own_expiries(clinic, data):
    html = clinic.world.client("li").get("/").content.decode()
    caps = panel_html(html, "capabilities")
    assert "甲诊所" in caps and "主执业机构" in caps
    assert "A型肉毒毒素注射" in caps
    assert f"/authz/practitioners/{clinic.li.pk}/capabilities/" in caps
    mine = panel_html(html, "my_expiries")
    assert "润百颜" in mine and "超声炮" in mine
    assert "JIA-SOON" not in mine  # the institution's lots are not his
    assert "/lifecycle/" not in mine  # the institution-wide list is not "his"
    # no institution-wide panels for a doctor
    assert "panel-approvals" not in html and "panel-denied" not in html


def test_a_doctor_without_a_practitioner_record_is_told_so(clinic):
    from meiguard.registry.models import Practitioner

    Practitioner.objects.filter(pk=clinic.li.pk).update(user=None)
    html = clinic.world.client("li").get("/").content.decode()
    assert "尚未关联执业人员档案" in panel_html(html, "capabilities")
    assert "继续医学教育学分只适用于医师" in panel_html(html, "cme")


def test_the_auditor_sees_member_institutions_with_open_findings_and_last_campaign(clinic, data):
    html = clinic.world.client("qian").get("/").content.decode()
    members = panel_html(html, "members")
    assert "甲诊所" in members and "乙医院" not in members
    row = re.search(r"甲诊所.*?</tr>", members, re.S).group(0)
    assert '<span class="badge deny">2</span>' in row
    assert "2025-Q1" in row and f"/reviews/{data.campaign.pk}/" in row
    assert "2025-Q1" in panel_html(html, "reviews")


def test_a_panel_refreshes_alone_with_htmx(clinic, data):
    c = clinic.world.client("zhao")
    r = c.get("/workspace/panels/denied/", **h.HTMX)
    assert r.status_code == 200
    html = r.content.decode()
    assert html.lstrip().startswith('<section class="card panel') and "<html" not in html
    assert f"/authz/decisions/{data.denied.pk}/" in html
    # new data shows on the next refresh
    again = h.decide(clinic, at=timezone.now(), deny=True)
    assert f"/authz/decisions/{again.pk}/" in c.get("/workspace/panels/denied/", **h.HTMX).content.decode()
    # without JS the same URL is a page holding the panel
    page = c.get("/workspace/panels/denied/").content.decode()
    assert "<html" in page and 'id="panel-denied"' in page


def test_a_panel_outside_the_actors_roles_is_404(clinic):
    assert clinic.world.client("li").get("/workspace/panels/approvals/", **h.HTMX).status_code == 404
    assert clinic.world.client("zhao").get("/workspace/panels/cme/").status_code == 404
    assert clinic.world.client("zhao").get("/workspace/panels/nope/").status_code == 404


def test_the_dashboard_is_in_english_with_the_language_cookie(clinic, data):
    c = clinic.world.client("zhao")
    c.cookies["django_language"] = "en"
    html = c.get("/").content.decode()
    assert '<html lang="en">' in html
    assert "Awaiting my approval" in html and "Expiring within 90 days" in html
    assert "Denied checks in the last 7 days" in html
    assert "待我审批" not in html


def test_setlang_switches_the_dashboard_to_english(clinic):
    c = clinic.world.client("li")
    r = c.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert r.status_code == 302
    html = c.get("/").content.decode()
    assert "What I may do, and where" in html and "My CME credits" in html


# ---- query counts ---------------------------------------------------------------------------------------------


def _more_rows(clinic, n):
    now = timezone.now()
    for i in range(n):
        h.expiring_lot(clinic, 10 + i)
        h.decide(clinic, at=now - dt.timedelta(days=i % 20), deny=i % 2 == 0)
        h.pending_step(clinic)


@pytest.mark.parametrize("name", ["zhao", "li", "qian"])
def test_the_dashboard_query_count_does_not_grow_with_rows(clinic, data, name, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    c = clinic.world.client(name)
    c.get("/")  # warm the per-process caches (rule packs, snapshots)
    with CaptureQueriesContext(connection) as few:
        assert c.get("/").status_code == 200
    _more_rows(clinic, 12)
    with CaptureQueriesContext(connection) as many:
        assert c.get("/").status_code == 200
    assert len(many) == len(few), name


# Pinned per panel (plus the session, user, memberships and notifications of the page itself). A change that
# adds a query per row fails here first.
PANEL_QUERIES = {
    "approvals": 2,
    "expiries": 8,  # lifecycle.expiring: one query per kind of item
    "denied": 2,
    "reviews": 2,
    "devices": 2,  # the count and the first rows (product and institution joined)
    "expiry_chart": 8,  # alone; on the full page it shares the expiries panel's year of items
    "decision_chart": 1,
    "members": 2,
    "cme": 3,  # the practitioner, the credits, the rule pack (when not cached)
    "my_expiries": 4,  # the practitioner + the three kinds a person holds
    "capabilities": 10,  # the practitioner twice, places, rule pack, one snapshot per place (cold cache)
    "aftercare": 3,  # my overdue follow-ups, today's, my open reactions
}


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("zhao", k)
        for k in ("approvals", "expiries", "denied", "reviews", "devices", "expiry_chart", "decision_chart")
    ]
    + [
        ("qian", "members"),
        ("li", "cme"),
        ("li", "my_expiries"),
        ("li", "capabilities"),
        ("li", "aftercare"),
    ],
)
def test_each_panel_costs_a_few_queries(clinic, data, name, key, django_assert_max_num_queries):
    from meiguard.workspace import queries

    board = queries.Board(clinic.world.actor(name), timezone.now())
    with django_assert_max_num_queries(PANEL_QUERIES[key]):
        panel = queries.build_panel(board, key)
    assert panel.data is not None and not panel.unavailable


# The whole page, warm: session, user, memberships, the header's two badges (unread notifications, pending
# approvals) and the memberships card (≈7), plus
# the panels. zhao: 2 + 8 (expiries; the chart shares its year of items) + 2 + 2 + 1 (+ 1 for the devices
# panel: none overdue, so only its count); qian: 2 + 2 + 1;
# li: the practitioner, his places and the pack, one warm snapshot (the rules generation: whether a rule-pack
# version was published by any process since), three kinds of expiries, credits, and the aftercare panel (3).
@pytest.mark.parametrize(("name", "most"), [("zhao", 25), ("qian", 15), ("li", 22)])
def test_the_dashboard_page_is_pinned(clinic, data, name, most, django_assert_max_num_queries):
    c = clinic.world.client(name)
    c.get("/")
    with django_assert_max_num_queries(most):
        assert c.get("/").status_code == 200
