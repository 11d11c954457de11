"""The compiled look-ups (issue 12): client search and the two look-backs return exactly what the ORM would,
cost one query on a hit, and keep ``visible_to`` as strict as before (a foreign lot or client is a 404 that
names the field)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meiguard.clinical import actions, queries
from meiguard.clinical.models import Client, Usage
from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.registry.crypto import mask_id_number
from meiguard.registry.models import Lot

from .conftest import SYSTEM, TOXIN


@pytest.fixture
def treated(clin):
    """Three clients of 甲 treated with the toxin lot (20 U each); the first twice, with the device too."""
    clients = [clin.client] + [clin.new_client(n) for n in ("赵女士", "钱女士")]
    for i, client in enumerate(clients):
        case = clin.ready(TOXIN, client=client)
        actions.open_record(clin.actor("li"), case.pk)
        actions.add_usage(
            clin.actor("li"),
            case.pk,
            usage_key="t",
            lot_id=clin.clinic.lot.pk,
            dose_value=Decimal(20),
            dose_unit="U",
        )
        if i == 0:
            actions.add_usage(
                clin.actor("li"), case.pk, usage_key="d", device_id=clin.clinic.device.pk, site="面部"
            )
    return clients


def _expected(usages: list[Usage]) -> list[tuple]:
    """What the pages showed before, read through the models."""
    out = []
    for u in usages:
        product = u.lot.product if u.lot else u.device.product
        out.append(
            (
                u.pk,
                u.client.name,
                u.client.phone,
                u.case.code,
                u.case.procedure_name,
                u.lot.lot_no if u.lot else "",
                u.device.serial_no if u.device else "",
                product.brand_name or product.generic_name,
                u.dose_value,
                u.dose_unit,
                u.site,
                u.created_at,
            )
        )
    return out


def _got(rows: list[queries.TraceRow]) -> list[tuple]:
    return [
        (
            r.usage_id,
            r.client_name,
            r.client_phone,
            r.case_code,
            r.procedure_name,
            r.lot_no,
            r.device_serial_no,
            r.product,
            r.dose_value,
            r.dose_unit,
            r.site,
            r.created_at,
        )
        for r in rows
    ]


def test_look_back_rows_are_what_the_models_say_in_one_query(clin, treated, django_assert_num_queries):
    zhao = clin.actor("zhao")
    lot = clin.clinic.lot
    with django_assert_num_queries(1):
        of_lot = queries.clients_of_lot(zhao, lot.pk)
    ref = Usage.objects.filter(lot=lot).select_related("client", "case", "lot__product", "device__product")
    assert _got(of_lot) == _expected(list(ref.order_by("client_id", "created_at", "pk")))
    assert len(of_lot) == 3
    with django_assert_num_queries(1):
        assert len(queries.clients_of_lot(zhao, lot.pk, limit=2)) == 2
    first = treated[0]
    with django_assert_num_queries(1):
        into = queries.usages_of_client(zhao, first.pk)
    ref = Usage.objects.filter(client=first).select_related(
        "client", "case", "lot__product", "device__product"
    )
    assert _got(into) == _expected(list(ref.order_by("created_at", "pk")))
    assert {(r.lot_id, r.device_id) for r in into} == {(lot.pk, None), (None, clin.clinic.device.pk)}
    with django_assert_num_queries(1):
        assert [r.usage_id for r in queries.usages_of_client(zhao, first.pk, limit=1)] == [into[0].usage_id]


def test_an_empty_look_back_checks_existence_with_a_second_query(clin, django_assert_num_queries):
    zhao = clin.actor("zhao")
    with django_assert_num_queries(2):
        assert queries.clients_of_lot(zhao, clin.clinic.lot.pk) == []
    with django_assert_num_queries(2):
        assert queries.usages_of_client(zhao, clin.client.pk) == []
    for fn, field in ((queries.clients_of_lot, "lot_id"), (queries.usages_of_client, "client_id")):
        with django_assert_num_queries(2), pytest.raises(NotFoundField) as exc:
            fn(zhao, 10**9)
        assert exc.value.field == field


def test_look_backs_keep_tenancy(clin, treated):
    lot, first = clin.clinic.lot, treated[0]
    sun = clin.actor("sun")  # 乙医院: sees neither 甲's lot nor its client
    for fn, pk, field in (
        (queries.clients_of_lot, lot.pk, "lot_id"),
        (queries.usages_of_client, first.pk, "client_id"),
    ):
        with pytest.raises(NotFoundField) as exc:
            fn(sun, pk)
        assert exc.value.field == field
        with pytest.raises(NotFoundField):
            fn(Actor.anonymous(), pk)
        # 甲's own staff, the association's auditor (oversight) and the system see the rows.
        for actor in (clin.actor("zhao"), clin.actor("qian"), SYSTEM):
            assert fn(actor, pk), actor.username


def test_a_foreign_lot_is_404_even_when_usages_of_it_are_visible(clin, treated):
    """Fold-in of the lot's own visibility: a usage of 甲 pointing at 乙's lot does not reveal the lot."""
    yi_lot = Lot.objects.create(
        product=clin.clinic.lot.product,
        lot_no="YI-0001",
        expiry_date=clin.clinic.lot.expiry_date,
        quantity=Decimal(10),
        unit=clin.clinic.lot.unit,
        institution=clin.clinic.yi,
    )
    Usage.objects.filter(client=treated[1]).update(lot=yi_lot)
    with pytest.raises(NotFoundField) as exc:
        queries.clients_of_lot(clin.actor("zhao"), yi_lot.pk)
    assert exc.value.field == "lot_id"
    # 乙 sees its lot but not 甲's usage: an empty look-back, not a 404.
    assert queries.clients_of_lot(clin.actor("sun"), yi_lot.pk) == []


def test_look_back_pages_and_api_show_the_rows_and_404_when_foreign(clin, treated):
    c = clin.world.client("zhao")
    lot = clin.clinic.lot
    html = c.get(f"/clinical/lots/{lot.pk}/").content.decode()
    assert treated[1].name in html and treated[1].phone in html
    html = c.get(f"/clinical/clients/{treated[0].pk}/").content.decode()
    assert lot.lot_no in html and clin.clinic.device.serial_no in html
    assert clin.world.client("sun").get(f"/clinical/lots/{lot.pk}/").status_code == 404
    r = clin.world.client("sun").get(f"/api/v1/clinical/clients/{treated[0].pk}/usages")
    assert r.status_code == 404 and r.json()["field"] == "client_id"
    rows = c.get(f"/api/v1/clinical/clients/{treated[0].pk}/usages").json()["items"]
    assert [(x["lot_no"], x["dose"]) for x in rows] == [(lot.lot_no, "20U"), ("", "")]
    import io

    from openpyxl import load_workbook

    r = c.get(f"/clinical/clients/{treated[0].pk}/usages.xlsx")
    ws = load_workbook(io.BytesIO(r.content)).active
    assert [[cell.value for cell in row][5:7] for row in ws.iter_rows(min_row=2)] == [
        [lot.lot_no, "20 U"],
        [clin.clinic.device.serial_no, None],
    ]


def _reference(actor, inst: int, **filters) -> list[int]:
    return list(
        Client.objects.visible_to(actor)
        .filter(institution_id=inst, **filters)
        .order_by("name", "pk")
        .values_list("pk", flat=True)
    )


def test_search_returns_the_shown_fields_in_one_query(clin, django_assert_num_queries):
    zhao = clin.actor("zhao")
    inst = clin.clinic.jia.pk
    other = clin.new_client("王小姐", phone="13912345678")
    full = Client.objects.get(pk=other.pk)
    for q in (full.id_number, "139 1234 5678", "王", "王小"):
        with django_assert_num_queries(1):
            found = queries.search_clients(zhao, inst, q)
        assert other.pk in [c.pk for c in found], q
    with django_assert_num_queries(1):
        (row,) = queries.search_clients(zhao, inst, full.id_number)
    assert (row.name, row.phone, row.masked_phone, row.date_of_birth, row.get_sex_display()) == (
        full.name,
        full.phone,
        full.masked_phone,
        full.date_of_birth,
        full.get_sex_display(),
    )
    assert row.masked_id_number == mask_id_number(full.id_number) != full.id_number
    assert not hasattr(row, "id_number")
    assert [c.pk for c in queries.search_clients(zhao, inst, "王")] == _reference(
        zhao, inst, name__startswith="王"
    )


def test_search_prefix_is_literal_and_case_sensitive(clin):
    zhao = clin.actor("zhao")
    inst = clin.clinic.jia.pk
    a = clin.new_client("Anna_Li")
    clin.new_client("AnnaXLi")
    clin.new_client("anna_li")
    assert [c.pk for c in queries.search_clients(zhao, inst, "Anna_")] == [a.pk]  # "_" is not a wildcard
    assert queries.search_clients(zhao, inst, "Anna%") == []
    assert queries.search_clients(zhao, inst, "ANNA") == []


def test_search_keeps_tenancy(clin):
    inst = clin.clinic.jia.pk
    number = Client.objects.get(pk=clin.client.pk).id_number
    for q in (number, clin.client.phone, clin.client.name[:1]):
        assert queries.search_clients(clin.actor("sun"), inst, q) == [], q
        assert queries.search_clients(Actor.anonymous(), inst, q) == [], q
        for actor in (clin.actor("zhao"), clin.actor("qian"), SYSTEM):
            assert clin.client.pk in [c.pk for c in queries.search_clients(actor, inst, q)], (
                q,
                actor.username,
            )
    r = clin.world.client("sun").get(f"/api/v1/clinical/clients?institution_id={inst}&q={number}")
    assert r.status_code == 200 and r.json() == []


# ---- pages (API pagination, capped exports) --------------------------------------------------------


def _ids(rows) -> list[int]:
    return [r.usage_id for r in rows]


def test_a_page_carries_the_whole_lists_size_in_the_same_query(clin, treated, django_assert_num_queries):
    zhao, lot, first = clin.actor("zhao"), clin.clinic.lot, treated[0]
    every = _ids(queries.clients_of_lot(zhao, lot.pk))
    assert len(every) == 3
    for offset in (0, 1, 2):
        with django_assert_num_queries(1):
            page = queries.clients_of_lot_page(zhao, lot.pk, limit=2, offset=offset)
        assert (_ids(page.rows), page.total) == (every[offset : offset + 2], 3)
    # Past the end: no rows, the size still told (one more query for it), no 404.
    with django_assert_num_queries(2):
        assert queries.clients_of_lot_page(zhao, lot.pk, limit=2, offset=3) == queries.TracePage([], 3)
    into = _ids(queries.usages_of_client(zhao, first.pk))
    assert len(into) == 2
    with django_assert_num_queries(1):
        page = queries.usages_of_client_page(zhao, first.pk, limit=1, offset=1)
    assert (_ids(page.rows), page.total) == (into[1:], 2)
    # Plain lists page the same way.
    assert _ids(queries.clients_of_lot(zhao, lot.pk, limit=1, offset=2)) == every[2:]


def test_an_empty_or_foreign_page(clin, treated, django_assert_num_queries):
    zhao, untreated = clin.actor("zhao"), clin.new_client("周女士")
    with django_assert_num_queries(2):  # the page, then: does the client exist at all
        assert queries.usages_of_client_page(zhao, untreated.pk, limit=5) == queries.TracePage([], 0)
    for actor in (clin.actor("sun"), Actor.anonymous()):
        for offset in (0, 7):
            with pytest.raises(NotFoundField) as exc:
                queries.clients_of_lot_page(actor, clin.clinic.lot.pk, limit=5, offset=offset)
            assert exc.value.field == "lot_id"
    with pytest.raises(NotFoundField):
        queries.usages_of_client_page(clin.actor("sun"), treated[0].pk, limit=5)
    for limit, offset in ((0, 0), (queries.LOOKBACK_MAX + 1, 0), (5, -1)):
        with pytest.raises(ValueError):
            queries.clients_of_lot_page(zhao, clin.clinic.lot.pk, limit=limit, offset=offset)


def test_api_pages_the_look_backs(clin, treated):
    zhao, sun = clin.world.client("zhao"), clin.world.client("sun")
    lot_url = f"/api/v1/clinical/lots/{clin.clinic.lot.pk}/clients"
    client_url = f"/api/v1/clinical/clients/{treated[0].pk}/usages"
    every = zhao.get(lot_url).json()
    assert every["count"] == 3 and len(every["items"]) == 3
    ids = [x["usage_id"] for x in every["items"]]
    page = zhao.get(f"{lot_url}?limit=2&offset=1").json()
    assert page == {"items": every["items"][1:3], "count": 3}
    assert [x["usage_id"] for x in page["items"]] == ids[1:]
    assert zhao.get(f"{lot_url}?offset=3").json() == {"items": [], "count": 3}
    assert zhao.get(f"{lot_url}?offset=1000000000").json() == {"items": [], "count": 3}
    into = zhao.get(f"{client_url}?limit=1").json()
    assert into["count"] == 2 and len(into["items"]) == 1
    # Bounds of the API's one pagination, each 422 naming the parameter; foreign or unknown ids 404.
    for query, field in (
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("offset=-1", "offset"),
        ("offset=1000000001", "offset"),
        ("limit=abc", "limit"),
        ("limit=+5", "limit"),
        ("format=csv", "format"),
    ):
        for url in (lot_url, client_url):
            r = zhao.get(f"{url}?{query}")
            assert r.status_code == 422 and r.json()["field"] == field, (url, query, r.json())
    assert zhao.get(f"{lot_url}?limit=1000").json()["count"] == 3
    assert sun.get(f"{lot_url}?limit=1").status_code == 404
    r = sun.get(f"{client_url}?offset=5")
    assert r.status_code == 404 and r.json()["field"] == "client_id"
    assert zhao.get("/api/v1/clinical/lots/999999999/clients").status_code == 404


def test_exports_are_capped_like_every_list(clin, treated, monkeypatch):
    """``?format=xlsx`` ignores the page and holds every row up to MAX_EXPORT_ROWS; a cut export says so."""
    import io

    from openpyxl import load_workbook

    from meiguard.audit.models import AuditEntry
    from meiguard.clinical import exporters

    zhao = clin.world.client("zhao")
    url = f"/api/v1/clinical/lots/{clin.clinic.lot.pk}/clients?format=xlsx&limit=1"
    wb = load_workbook(io.BytesIO(zhao.get(url).content))
    assert wb.worksheets[0].max_row == 4  # header + all 3 rows, whatever limit says
    assert [c.value for c in wb.worksheets[1]["B"]][2] == 3
    monkeypatch.setattr(exporters, "MAX_EXPORT_ROWS", 2)
    for export in (url, f"/clinical/lots/{clin.clinic.lot.pk}/?format=xlsx"):
        wb = load_workbook(io.BytesIO(zhao.get(export).content))
        assert wb.worksheets[0].max_row == 3
        notes = {r[0].value: r[1].value for r in wb.worksheets[1].iter_rows()}
        assert notes["行数"] == 2 and "只导出了前 2 行" in notes["注意"]
    entry = AuditEntry.objects.filter(action="clinical.lot.exported").order_by("-pk").first()
    assert entry is not None and entry.changes["truncated"] is True
    monkeypatch.setattr(exporters, "MAX_EXPORT_ROWS", 1)  # the client has two usages
    wb = load_workbook(io.BytesIO(zhao.get(f"/clinical/clients/{treated[0].pk}/usages.xlsx").content))
    assert wb.worksheets[0].max_row == 2 and "注意" in [r[0].value for r in wb.worksheets[1].iter_rows()]


def test_the_lot_page_shows_at_most_its_page_and_says_so(clin, treated, monkeypatch):
    from meiguard.clinical import views

    zhao = clin.world.client("zhao")
    html = zhao.get(f"/clinical/lots/{clin.clinic.lot.pk}/").content.decode()
    assert "3 位求美者" in html and "3 次使用" in html and "此处显示前" not in html
    monkeypatch.setattr(views, "LOT_PAGE_ROWS", 2)
    html = zhao.get(f"/clinical/lots/{clin.clinic.lot.pk}/").content.decode()
    assert "此处显示前 2 次使用(共 3 次)" in html and "位求美者" not in html
    assert html.count('href="tel:') == 2
