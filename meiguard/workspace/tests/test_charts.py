"""Charts: the aggregates behind them (one TruncWeek query; months from the expiry list), the SVG geometry,
and the accessible numbers in the rendered page."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

import pytest
from django.utils import timezone

from meiguard.workspace import charts, queries

from . import helpers as h

pytestmark = pytest.mark.django_db
SHANGHAI = queries.CHINA_TZ


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=SHANGHAI)


def test_decisions_per_week_counts_allowed_and_denied_in_china_weeks(clinic, django_assert_num_queries):
    on = dt.date(2026, 3, 4)  # a Wednesday; its week starts Monday 2026-03-02
    monday = dt.date(2026, 3, 2)
    h.decide(clinic, at=at(monday, 0, 5))  # just after midnight Monday in China (Sunday 16:05 UTC)
    h.decide(clinic, at=at(monday + dt.timedelta(days=1), 10), deny=True)
    h.decide(clinic, at=at(monday - dt.timedelta(days=1), 23, 55))  # Sunday night: the week before
    h.decide(clinic, at=at(monday - dt.timedelta(weeks=11), 9))  # the oldest week shown
    h.decide(clinic, at=at(monday - dt.timedelta(weeks=12), 9))  # too old
    h.decide(clinic, at=at(monday + dt.timedelta(weeks=1), 9))  # next week: not yet
    h.decide(clinic, at=at(monday, 9), who="sun", yi=True)  # another tenant
    zhao = clinic.world.actor("zhao")
    with django_assert_num_queries(1):
        weeks = queries.decisions_per_week(zhao, on)
    assert len(weeks) == 12
    assert weeks[0].week == monday - dt.timedelta(weeks=11) and weeks[-1].week == monday
    assert all(w.week.weekday() == 0 for w in weeks)
    assert (weeks[-1].allowed, weeks[-1].denied) == (1, 1)
    assert (weeks[-2].allowed, weeks[-2].denied) == (1, 0)
    assert (weeks[0].allowed, weeks[0].denied) == (1, 0)
    assert sum(w.total for w in weeks) == 4
    # sun sees only 乙's check; the auditor of 甲 sees 甲's
    sun = queries.decisions_per_week(clinic.world.actor("sun"), on)
    assert [(w.allowed + w.denied) for w in sun][-1] == 1 and sum(w.total for w in sun) == 1
    assert sum(w.total for w in queries.decisions_per_week(clinic.world.actor("qian"), on)) == 4


def test_expiries_per_month_cover_twelve_calendar_months():
    on = dt.date(2026, 11, 29)
    items = [
        SimpleNamespace(expires_on=d)
        for d in (
            dt.date(2026, 11, 30),
            dt.date(2026, 12, 1),
            dt.date(2026, 12, 31),
            dt.date(2027, 10, 31),  # the twelfth month
            dt.date(2027, 11, 1),  # beyond
            dt.date(2026, 11, 1),  # already past
        )
    ]
    months = queries.expiries_per_month(items, on)
    assert [m.month for m in months][:3] == [dt.date(2026, 11, 1), dt.date(2026, 12, 1), dt.date(2027, 1, 1)]
    assert months[-1].month == dt.date(2027, 10, 1)
    assert [m.count for m in months] == [1, 2] + [0] * 9 + [1]


def test_the_expiry_chart_counts_what_expires_for_the_actor(clinic):
    today = timezone.localdate()
    h.expiring_lot(clinic, 5)
    h.expiring_lot(clinic, 200)
    h.expiring_lot(clinic, 3, yi=True)
    board = queries.Board(clinic.world.actor("zhao"), timezone.now())
    panel = queries.expiry_chart(board)
    counts = {p.month: p.count for p in panel.points}
    five = (today + dt.timedelta(days=5)).replace(day=1)
    two_hundred = (today + dt.timedelta(days=200)).replace(day=1)
    assert counts[five] >= 1 and counts[two_hundred] >= 1
    assert sum(counts.values()) == 2  # 乙's lot is not 甲's; everything else in the clinic runs to 2030


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, (4, 1)), (1, (1, 1)), (3, (3, 1)), (7, (8, 2)), (12, (15, 5)), (123, (150, 50)), (999, (1000, 200))],
)
def test_axis_maximum_is_a_round_number_with_at_most_five_steps(value, expected):
    top, step = charts.nice_max(value)
    assert (top, step) == expected and top >= value and top // step <= 5


def test_bar_geometry_is_proportional_and_inside_the_plot():
    weeks = [(dt.date(2026, 1, 5) + dt.timedelta(weeks=i), i, 10 - i) for i in range(10)]
    c = charts.decision_week_chart(weeks, "近12周")
    assert len(c.bars) == 20 and c.total == 100
    bottom = c.plot_bottom
    for bar in c.bars:
        assert c.plot_left <= bar.x and bar.x + bar.width <= c.plot_right
        assert bar.y + bar.height == pytest.approx(bottom, abs=0.11)
    tallest = max(c.bars, key=lambda b: b.value)
    half = next(b for b in c.bars if b.value == 5)
    assert half.height == pytest.approx(tallest.height / 2, abs=0.2)
    zero = next(b for b in c.bars if b.value == 0)
    assert zero.height == 0
    assert [t.value for t in c.ticks] == [0, 2, 4, 6, 8, 10]
    assert "允许 3,不允许 7" in c.summary and "合计允许 45 次,不允许 55 次" in c.summary


def test_the_page_draws_accessible_charts_with_the_numbers(clinic):
    now = timezone.now()
    for deny in (True, False, False):
        h.decide(clinic, at=now, deny=deny)
    h.expiring_lot(clinic, 5)
    html = clinic.world.client("zhao").get("/").content.decode()
    chart = re.search(
        r'<figure class="chart">.*?</figure>', html[html.index('id="panel-decision_chart"') :], re.S
    ).group(0)
    assert 'role="img"' in chart and 'aria-labelledby="chart-decisions-t chart-decisions-d"' in chart
    desc = re.search(r'<desc id="chart-decisions-d">(.*?)</desc>', chart, re.S).group(1)
    assert "合计允许 2 次,不允许 1 次" in desc
    this_week = timezone.localdate() - dt.timedelta(days=timezone.localdate().weekday())
    row = re.search(rf"<th scope=\"row\">{this_week:%Y-%m-%d} 起的一周</th>(.*?)</tr>", chart, re.S).group(1)
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["2", "1"]
    assert (
        'style="fill:url(#chart-decisions-hatch)"' in chart
    )  # denied bars differ by pattern, not colour alone
    assert "<title>" in chart and "不允许: 1</title>" in chart
    months = re.search(
        r'<figure class="chart">.*?</figure>', html[html.index('id="panel-expiry_chart"') :], re.S
    ).group(0)
    assert "合计 1 项" in months
