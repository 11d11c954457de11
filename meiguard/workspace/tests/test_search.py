"""The header's global search (workspace/search.py): every kind found by name, number or code, never another
tenant's rows, a bounded page at a pinned query count."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from meiguard.authz.tests.conftest import authorize
from meiguard.workspace import search

from .helpers import decide, pending_step


def _kinds(groups):
    return {g.key: [h.title for h in g.hits] for g in groups}


@pytest.fixture
def rows(clinic):
    auth = authorize(clinic.jia, clinic.li, "device", device_model="超声炮")
    log = decide(clinic, at=timezone.now() - dt.timedelta(hours=1))
    app = pending_step(clinic).application
    # The outsider's rows, with names that match the same terms.
    foreign_auth = authorize(clinic.yi, clinic.sun_doctor, "device", device_model="超声炮")
    foreign_app = pending_step(clinic, yi=True).application
    return {"auth": auth, "log": log, "app": app, "foreign_auth": foreign_auth, "foreign_app": foreign_app}


def test_it_finds_each_kind_by_name_or_code(clinic, rows):
    wang = clinic.world.actor("wang")
    assert clinic.li.name in _kinds(search.search(wang, clinic.li.name))["practitioners"]
    assert _kinds(search.search(wang, clinic.jia.name[:3]))["institutions"] == [clinic.jia.name]
    assert "衡力" in _kinds(search.search(wang, "衡力"))["products"]
    assert clinic.lot.lot_no in _kinds(search.search(wang, clinic.lot.lot_no))["lots"]
    by_code = _kinds(search.search(wang, "derm-filler"))
    assert any(t.startswith(f"#{rows['app'].pk} ") for t in by_code["applications"])
    by_person = _kinds(search.search(wang, clinic.li.name))
    assert any(t.startswith(f"#{rows['auth'].pk} ") for t in by_person["authorizations"])
    assert any(t.startswith(f"#{rows['log'].pk} ") for t in by_person["decisions"])


def test_it_finds_records_by_number(clinic, rows):
    wang = clinic.world.actor("wang")
    groups = _kinds(search.search(wang, f"#{rows['log'].pk}"))
    assert any(t.startswith(f"#{rows['log'].pk} ") for t in groups["decisions"])


def test_it_never_shows_another_tenants_rows(clinic, rows):
    wang = clinic.world.actor("wang")
    everything = [
        h
        for term in (clinic.sun_doctor.name, clinic.yi.name, "超声炮", "derm-filler")
        for g in search.search(wang, term)
        for h in g.hits
    ]
    urls = {h.url for h in everything}
    assert f"/registry/practitioners/{clinic.sun_doctor.pk}/" not in urls
    assert f"/registry/institutions/{clinic.yi.pk}/" not in urls
    assert f"/authz/authorizations/{rows['foreign_auth'].pk}/" not in urls
    assert f"/applications/{rows['foreign_app'].pk}/" not in urls
    assert f"/authz/authorizations/{rows['auth'].pk}/" in urls  # the same term finds wang's own
    # And sun, the outsider, sees none of 甲's.
    sun = clinic.world.actor("sun")
    theirs = {h.url for g in search.search(sun, clinic.li.name) for h in g.hits}
    assert f"/registry/practitioners/{clinic.li.pk}/" not in theirs


def test_the_page_groups_results_by_kind(clinic, rows):
    c = clinic.world.client("wang")
    r = c.get("/workspace/search/", {"q": clinic.li.name})
    html = r.content.decode()
    assert r.status_code == 200
    assert 'id="results-practitioners"' in html and 'id="results-decisions"' in html
    assert f'href="/registry/practitioners/{clinic.li.pk}/"' in html


def test_the_term_is_bounded_and_empty_is_harmless(clinic):
    c = clinic.world.client("wang")
    assert c.get("/workspace/search/", {"q": ""}).status_code == 200
    r = c.get("/workspace/search/", {"q": "x" * 5000})
    assert r.status_code == 200
    assert search.clean("x" * 5000) == "x" * search.MAX_TERM


def test_each_kind_is_cut_to_a_page(clinic):
    from meiguard.registry.tests.factories import LotFactory

    for n in range(search.PER_KIND + 3):
        LotFactory(product=clinic.toxin, institution=clinic.jia, lot_no=f"ZZ{n:04d}")
    group = next(g for g in search.search(clinic.world.actor("wang"), "ZZ0") if g.key == "lots")
    assert len(group.hits) == search.PER_KIND and group.more


def test_query_count_is_pinned(clinic, rows, django_assert_num_queries):
    wang = clinic.world.actor("wang")
    # One LIMIT query per kind, whatever the number of rows: 7.
    with django_assert_num_queries(7):
        search.search(wang, clinic.li.name)


def test_the_page_costs_a_fixed_number_of_queries(clinic, rows, django_assert_num_queries):
    c = clinic.world.client("wang")
    c.get("/")  # session and MFA state settled
    # session, user, memberships (the actor) · 7 searches · 2 header badges (pending approvals, unread notices)
    # · the session's activity stamp (savepoint, update, release)
    with django_assert_num_queries(15):
        assert c.get("/workspace/search/", {"q": clinic.li.name}).status_code == 200


def test_a_procedure_name_finds_the_records_that_hold_its_code(clinic, rows):
    """Records keep procedure codes; a name in either language finds them, and hits read as names."""
    wang = clinic.world.actor("wang")
    by_name = search.search(wang, "肉毒毒素注射")  # derm-botulinum-toxin-injection, the check's procedure
    decisions = next(g for g in by_name if g.key == "decisions")
    assert any(h.title.startswith(f"#{rows['log'].pk} ") for h in decisions.hits)
    assert all("derm-botulinum" not in h.detail for h in decisions.hits)  # the name, not the code
    english = _kinds(search.search(wang, "Botulinum toxin"))
    assert any(t.startswith(f"#{rows['log'].pk} ") for t in english["decisions"])
    assert "decisions" not in _kinds(search.search(wang, "眼睑"))  # a name nobody was checked for
