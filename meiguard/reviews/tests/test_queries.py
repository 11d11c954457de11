"""Public queries for the dashboard: open findings per institution, overdue reviews, periods."""

from __future__ import annotations

import datetime as dt

import pytest

from meiguard.reviews import actions, queries
from meiguard.reviews.periods import Quarter, parse, quarter_of

from .conftest import TODAY


def test_quarters_parse_and_span_their_months():
    q = parse("2026-q4")
    assert q == Quarter(2026, 4) and q.label == "2026-Q4"
    assert (q.start, q.end, q.months) == (dt.date(2026, 10, 1), dt.date(2026, 12, 31), (10, 11, 12))
    assert Quarter(2026, 1).previous() == Quarter(2025, 4) and Quarter(2025, 4).next() == Quarter(2026, 1)
    assert quarter_of(dt.date(2026, 3, 31)) == Quarter(2026, 1)
    for bad in ("2026-Q0", "2026-Q5", "26-Q1", "", "1999-Q1", "2026Q1"):
        assert parse(bad) is None


def test_open_findings_by_institution_counts_only_open_ones_the_actor_can_see(clinic, campaign):
    qian = clinic.world.actor("qian")
    for text in ("a", "b"):
        actions.raise_finding(qian, campaign.pk, practitioner_id=clinic.li.pk, description=text)
    closed = actions.raise_finding(qian, campaign.pk, practitioner_id=clinic.li.pk, description="c")
    actions.close_finding(qian, closed.pk, note="done")
    assert [(i.name, n) for i, n in queries.open_findings_by_institution(qian)] == [("甲诊所", 2)]
    admin = clinic.world.actor("wang")
    assert [(i.name, n) for i, n in queries.open_findings_by_institution(admin)] == [("甲诊所", 2)]
    sun = clinic.world.actor("sun")
    assert [(i.name, n) for i, n in queries.open_findings_by_institution(sun)] == [("乙医院", 0)]


def test_open_findings_are_sorted_most_first(clinic, campaign, system_actor):
    other = actions.create_campaign(
        system_actor, institution_id=clinic.yi.pk, period="2026-Q1", build=False, today=TODAY
    )
    actions.raise_finding(system_actor, other.pk, description="x")
    for text in ("a", "b"):
        actions.raise_finding(system_actor, campaign.pk, description=text)
    assert [(i.name, n) for i, n in queries.open_findings_by_institution(system_actor)] == [
        ("甲诊所", 2),
        ("乙医院", 1),
    ]


@pytest.mark.parametrize(
    ("on", "overdue"),
    [
        (dt.date(2026, 4, 15), False),  # exactly 15 days after 2026-03-31
        (dt.date(2026, 4, 16), True),
    ],
)
def test_open_campaigns_are_overdue_15_days_after_their_period(clinic, campaign, on, overdue):
    assert queries.overdue_reviews(clinic.world.actor("qian"), on).exists() is overdue
    assert not queries.overdue_reviews(clinic.world.actor("sun"), dt.date(2027, 1, 1)).exists()


def test_the_overdue_margin_is_a_setting_and_closed_campaigns_are_never_overdue(clinic, campaign, settings):
    qian = clinic.world.actor("qian")
    settings.REVIEWS_OVERDUE_DAYS = 30
    assert not queries.overdue_reviews(qian, dt.date(2026, 4, 20)).exists()
    assert list(queries.overdue_reviews(qian, dt.date(2026, 5, 1))) == [campaign]
    actions.close_campaign(qian, campaign.pk)
    assert not queries.overdue_reviews(qian, dt.date(2026, 12, 1)).exists()


def test_institutions_without_a_review_for_the_previous_quarter(clinic, campaign, system_actor):
    missing = queries.institutions_without_review(system_actor, dt.date(2026, 5, 1))  # previous = 2026-Q1
    assert [i.name for i in missing] == ["乙医院"]
    assert [
        i.name for i in queries.institutions_without_review(system_actor, dt.date(2026, 5, 1), "internal")
    ] == [
        "乙医院",
        "甲诊所",
    ]
    assert [
        i.name for i in queries.institutions_without_review(clinic.world.actor("qian"), dt.date(2026, 5, 1))
    ] == []
