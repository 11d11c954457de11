"""The shared list helper on its own: which sorts are accepted, the headers it draws, the cells it exports."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.http import QueryDict
from django.test import RequestFactory
from openpyxl import load_workbook

from meiguard.registry.models import Institution
from meiguard.workspace import listing
from meiguard.workspace.listing import Column, Listing

PEOPLE = Listing(
    "people",
    "人员",
    (
        Column("name", "姓名", lambda o: o.name, order_by=("name",)),
        Column("city", "城市", lambda o: o.city, order_by=("city", "name")),
        Column("link", "链接"),  # screen only, not sortable
        Column("code", "代码", lambda o: o.code, screen=False),  # export only
    ),
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("name", ("name", False)),
        ("-city", ("city", True)),
        ("", None),
        (None, None),
        ("nope", None),  # unknown
        ("link", None),  # not sortable
        ("code", None),  # export-only, not sortable
        ("--name", None),
        ("name;drop table", None),
        ("n" * 100, None),
        (" -name ", ("name", True)),
    ],
)
def test_only_whitelisted_sorts_are_accepted(raw, expected):
    sort = PEOPLE.parse_sort(raw)
    assert (None if sort is None else (sort.column.key, sort.descending)) == expected


def test_headers_show_the_current_sort_and_link_to_the_other_direction():
    query = QueryDict("q=李&page=3&sort=name&format=xlsx")
    headers = PEOPLE.headers(query, PEOPLE.parse_sort("name"))
    assert [h.key for h in headers] == ["name", "city", "link"]  # the export-only column has no header
    name, city, link = headers
    assert name.aria_sort == "ascending" and "sort=-name" in name.url
    assert "page=" not in name.url and "format=" not in name.url and "q=%E6%9D%8E" in name.url
    assert city.aria_sort == "" and "sort=city" in city.url
    assert link.url == "" and link.aria_sort == ""
    name_desc = PEOPLE.headers(query, PEOPLE.parse_sort("-name"))[0]
    assert (
        name_desc.aria_sort == "descending"
        and "sort=name" in name_desc.url
        and "sort=-name" not in name_desc.url
    )


def test_prepare_drops_an_ignored_sort_and_keeps_filters_for_pagination_and_export():
    request = RequestFactory().get("/x/", {"q": "a", "sort": "evil", "page": "2"})
    listed = PEOPLE.prepare(request, Institution.objects.none())
    assert listed.sort is None
    assert listed.querystring == "q=a"
    assert listed.export_url == "?q=a&format=xlsx"
    assert not listed.wants_export
    request = RequestFactory().get("/x/", {"q": "a", "sort": "-city", "format": "xlsx"})
    listed = PEOPLE.prepare(request, Institution.objects.none())
    assert listed.wants_export and listed.sort is not None and listed.querystring == "q=a&sort=-city"


def test_sorting_orders_by_the_columns_paths_with_the_pk_last():
    qs = PEOPLE.sort(Institution.objects.all(), PEOPLE.parse_sort("-city"))
    sql = str(qs.query)
    assert sql.index('"city"') < sql.index('"name"', sql.index("ORDER BY")) < sql.rindex('"id"')
    assert "DESC" in sql.split("ORDER BY")[1]


def test_cells_keep_their_types_and_text_that_looks_like_a_formula_stays_text(db):
    shanghai = ZoneInfo("Asia/Shanghai")
    cols = (
        Column("text", "文本", lambda o: o["text"]),
        Column("day", "日期", lambda o: o["day"]),
        Column("at", "时间", lambda o: o["at"]),
        Column("n", "数量", lambda o: o["n"]),
        Column("flag", "是否", lambda o: o["flag"]),
        Column("list", "列表", lambda o: o["list"]),
    )
    rows = [
        {
            "text": '=HYPERLINK("http://evil","x")',
            "day": dt.date(2026, 3, 3),
            "at": dt.datetime(2026, 3, 3, 2, 0, tzinfo=dt.UTC),
            "n": Decimal("12.500"),
            "flag": True,
            "list": ["美容外科", "美容皮肤科"],
        }
    ]

    class FakeQS(list):
        def __getitem__(self, item):
            return (
                FakeQS(list.__getitem__(self, item))
                if isinstance(item, slice)
                else list.__getitem__(self, item)
            )

    data, n, cut = Listing("t", "表", cols).workbook_bytes(FakeQS(rows), who="zhao", filters=[("q", "=1+1")])
    assert (n, cut) == (1, False)
    wb = load_workbook(io.BytesIO(data))
    ws = wb["表"]
    assert [c.value for c in ws[1]] == ["文本", "日期", "时间", "数量", "是否", "列表"]
    text, day, at, num, flag, lst = ws[2]
    assert text.value == '=HYPERLINK("http://evil","x")' and text.data_type == "s"
    assert day.value == dt.datetime(2026, 3, 3) and day.number_format == "yyyy-mm-dd"
    assert at.value == dt.datetime(2026, 3, 3, 10, 0)  # China time, as on screen
    assert at.value.replace(tzinfo=shanghai).astimezone(dt.UTC).hour == 2
    assert num.value == 12.5
    assert flag.value == "是" and lst.value == "美容外科、美容皮肤科"
    notes = {r[0].value: r[1] for r in wb["导出说明"].iter_rows()}
    assert notes["导出人"].value == "zhao" and notes["行数"].value == 1
    assert notes["筛选 q"].value == "=1+1" and notes["筛选 q"].data_type == "s"


def test_an_export_is_capped_and_says_so(reg, world, monkeypatch):
    from meiguard.registry.tests.factories import InstitutionFactory, OrganizationFactory

    for i in range(4):
        InstitutionFactory(organization=OrganizationFactory(name=f"机构{i}"))
    monkeypatch.setattr(listing, "MAX_EXPORT_ROWS", 3)
    spec = Listing("inst", "机构", (Column("name", "名称", lambda i: i.name, order_by=("name",)),))
    data, n, cut = spec.workbook_bytes(Institution.objects.order_by("name"))
    assert (n, cut) == (3, True)
    wb = load_workbook(io.BytesIO(data))
    assert wb["机构"].max_row == 4  # header + 3
    assert any("只导出了前 3 行" in str(c.value) for row in wb["导出说明"].iter_rows() for c in row)


def test_sheet_titles_are_made_valid():
    assert listing._sheet_title("a/b:c[d]") == "a b c d "
    assert len(listing._sheet_title("长" * 40)) == 31
