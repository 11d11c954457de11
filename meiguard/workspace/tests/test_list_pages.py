"""The registry and authz list pages: sortable headers, safe handling of bad sorts, and Excel exports that carry
the same filters, order, scope and masking as the page."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from meiguard.registry.tests.factories import (
    InstitutionFactory,
    LotFactory,
    OrganizationFactory,
    PractitionerFactory,
)
from meiguard.workspace.listing import XLSX_TYPE

from . import helpers as h

LISTS = [
    "/registry/institutions/",
    "/registry/practitioners/",
    "/registry/products/",
    "/registry/lots/",
    "/registry/devices/",
    "/authz/authorizations/",
    "/authz/decisions/",
]


def sheet(response) -> list[list[object]]:
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX_TYPE
    assert response["Content-Disposition"].startswith("attachment; filename=")
    wb = load_workbook(io.BytesIO(response.content))
    return [[c.value for c in row] for row in wb.worksheets[0].iter_rows()]


def names_in_order(html: str, pattern: str) -> list[str]:
    return re.findall(pattern, html)


@pytest.mark.parametrize("url", LISTS)
def test_every_list_has_sortable_headers_an_export_link_and_ignores_bad_sorts(clinic, url):
    c = clinic.world.client("zhao")
    html = c.get(url).content.decode()
    assert 'class="sort"' in html and "aria-sort" not in html  # nothing sorted yet
    assert "format=xlsx" in html
    for bad in ("nope", "-", "--name", "id_number;DROP TABLE x", "x" * 300, "credit_code", "scope"):
        r = c.get(url, {"sort": bad})
        assert r.status_code == 200, (url, bad)
        assert "aria-sort" not in r.content.decode()
    assert sheet(c.get(url, {"format": "xlsx", "sort": "nope"}))[0]  # a header row, no 500


def test_institutions_sort_both_ways_and_mark_the_header(reg, world):
    for name in ("丙诊所", "丁诊所"):
        InstitutionFactory(organization=OrganizationFactory(name=name))
    c = world.client("qian")
    from meiguard.core.models import Organization

    # qian oversees 甲 only; make the association oversee the new ones too
    assoc = world.org_assoc
    assoc.oversees.add(*Organization.objects.filter(name__in=["丙诊所", "丁诊所"]))
    pattern = r'href="/registry/institutions/\d+/">([^<]+)</a>'
    asc = names_in_order(c.get("/registry/institutions/?sort=name").content.decode(), pattern)
    desc_html = c.get("/registry/institutions/?sort=-name").content.decode()
    desc = names_in_order(desc_html, pattern)
    assert asc == sorted(asc) and len(asc) == 3 and desc == list(reversed(asc))
    assert re.search(r'<th scope="col" aria-sort="descending"><a class="sort" href="\?sort=name">', desc_html)
    # pagination and filter forms carry the sort
    assert '<input type="hidden" name="sort" value="-name">' in desc_html


def test_lots_sort_by_expiry_and_the_sort_survives_pagination(reg, world):
    for i in range(30):
        LotFactory(
            product=reg.product,
            institution=reg.jia,
            lot_no=f"L{i:02d}",
            expiry_date=dt.date(2030, 1, 1) + dt.timedelta(days=i),
        )
    c = world.client("wang")
    page1 = c.get("/registry/lots/?sort=-expiry_date").content.decode()
    lots = names_in_order(page1, r'href="/registry/lots/\d+/">([^<]+)</a>')
    assert lots[:3] == ["L29", "L28", "L27"]
    assert "sort=-expiry_date&amp;page=2" in page1


def test_institution_export_respects_filters_and_sort(reg, world):
    c = world.client("qian")  # sees 甲 only
    rows = sheet(c.get("/registry/institutions/", {"format": "xlsx"}))
    assert rows[0][:5] == ["机构名称", "机构类型", "省份/城市", "许可证有效期至", "状态"]
    assert "统一社会信用代码" in rows[0]  # export-only columns
    assert [r[0] for r in rows[1:]] == ["甲诊所"]
    assert isinstance(rows[1][3], dt.datetime)  # a real date cell
    assert rows[1][rows[0].index("统一社会信用代码")] == reg.jia.credit_code
    # sun sees only 乙, and a filter that matches nothing exports only the header
    assert [r[0] for r in sheet(world.client("sun").get("/registry/institutions/?format=xlsx"))[1:]] == [
        "乙医院"
    ]
    assert sheet(c.get("/registry/institutions/?format=xlsx&province=北京")) == [rows[0]]


def test_practitioner_export_masks_id_numbers_as_on_screen(reg, world):
    c = world.client("wang")
    html = c.get("/registry/practitioners/").content.decode()
    rows = sheet(c.get("/registry/practitioners/?format=xlsx&q=李"))
    header, *body = rows
    assert [r[0] for r in body] == ["李医生"]
    masked = body[0][header.index("身份证号")]
    assert masked == reg.li.masked_id_number and masked in html
    assert reg.li.id_number not in str(rows)
    assert "*" in masked


def test_practitioner_export_sorts_like_the_page(reg, world):
    for name in ("阿一", "贝二"):
        PractitionerFactory(main_institution=reg.jia, name=name)
    c = world.client("wang")
    body = sheet(c.get("/registry/practitioners/?format=xlsx&sort=-name"))[1:]
    names = [r[0] for r in body]
    assert names == sorted(names, reverse=True) and len(names) == 3


def test_lot_export_respects_the_expiry_filter(reg, world):
    LotFactory(product=reg.product, institution=reg.jia, lot_no="OLD", expiry_date=dt.date(2020, 1, 1))
    rows = sheet(world.client("wang").get("/registry/lots/?format=xlsx&expires_before=2021-01-01"))
    assert [r[1] for r in rows[1:]] == ["OLD"]


def test_lot_and_device_lists_filter_by_institution(reg, world):
    c = world.client("qian")  # auditor: may read 甲 only
    html = c.get(f"/registry/lots/?institution={reg.jia.pk}").content.decode()
    assert reg.lot.lot_no in html
    assert reg.lot.lot_no not in c.get(f"/registry/lots/?institution={reg.yi.pk}").content.decode()
    assert "没有符合条件的设备" in c.get(f"/registry/devices/?institution={reg.yi.pk}").content.decode()


def test_product_list_filters_by_category_and_supplier(reg, world):
    c = world.client("wang")
    assert reg.product.brand_name in c.get("/registry/products/?category=hyaluronic_acid").content.decode()
    assert (
        reg.product.brand_name not in c.get("/registry/products/?category=botulinum_toxin_a").content.decode()
    )
    assert reg.product.brand_name in c.get(f"/registry/products/?supplier={reg.supplier.pk}").content.decode()
    assert c.get("/registry/products/?category=<script>&supplier=x").status_code == 200


def test_authorization_list_searches_sorts_and_exports(clinic):
    h.expiring_authorization(clinic, 50)
    c = clinic.world.client("zhao")
    html = c.get("/authz/authorizations/?q=超声炮").content.decode()
    assert "超声炮" in html and "衡力" not in html
    rows = sheet(c.get("/authz/authorizations/?format=xlsx&kind=device&sort=-valid_until"))
    header, *body = rows
    assert header[:2] == ["#", "授权类型"] and "生效日期" in header and "截止日期" in header
    scopes = [r[header.index("范围")] for r in body]
    assert scopes == ["型号:热玛吉-FLX", "型号:超声炮"]  # until 2030 first, then the one ending in 50 days
    ascending = sheet(c.get("/authz/authorizations/?format=xlsx&kind=device&sort=valid_until"))[1:]
    assert [r[header.index("范围")] for r in ascending] == list(reversed(scopes))
    assert {r[1] for r in body} == {"设备授权"}
    assert sheet(clinic.world.client("sun").get("/authz/authorizations/?format=xlsx"))[1:] == []


def test_decision_export_respects_the_outcome_filter_and_scope(clinic):
    now = timezone.now()
    allow = h.decide(clinic, at=now)
    deny = h.decide(clinic, at=now, deny=True)
    h.decide(clinic, at=now, who="sun", yi=True)
    c = clinic.world.client("zhao")
    rows = sheet(c.get("/authz/decisions/?format=xlsx&outcome=deny"))
    header, *body = rows
    assert [r[0] for r in body] == [deny.pk]
    assert body[0][header.index("结论")] == "不允许"
    assert body[0][header.index("原因代码")] == "、".join(deny.reason_codes) and deny.reason_codes
    everything = sheet(c.get("/authz/decisions/?format=xlsx&sort=id"))[1:]
    assert [r[0] for r in everything] == [allow.pk, deny.pk]  # 乙's check is not 甲's to export


def test_decisions_sort_by_check_time_on_the_page(clinic):
    now = timezone.now()
    old = h.decide(clinic, at=now - dt.timedelta(days=3))
    new = h.decide(clinic, at=now - dt.timedelta(days=1))
    c = clinic.world.client("qian")
    html = c.get("/authz/decisions/?sort=at").content.decode()
    assert 'aria-sort="ascending"' in html
    assert html.index(f"/authz/decisions/{old.pk}/") < html.index(f"/authz/decisions/{new.pk}/")
    html = c.get("/authz/decisions/?sort=-at").content.decode()
    assert html.index(f"/authz/decisions/{new.pk}/") < html.index(f"/authz/decisions/{old.pk}/")
