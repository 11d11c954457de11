"""Public lookups without login: the institution directory and page, the doctor lookup, product verification;
caching headers, ETag, server cache and pinned query counts; robots.txt; rate limits; the language link."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.urls import reverse

from meiguard.public.tests.conftest import Inv, trace_codes

pytestmark = pytest.mark.django_db


def test_home_needs_no_login_and_has_no_staff_nav(anon) -> None:
    response = anon.get("/p/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "主导航" not in html and "/registry/" not in html
    assert "<script" not in html  # no JavaScript on the public pages
    assert len(response.content) < 20_000


def test_directory_search_and_paging(inv: Inv, anon) -> None:
    response = anon.get("/p/institutions/", {"q": "甲"})
    html = response.content.decode()
    assert response.status_code == 200
    assert inv.clinic.jia.name in html and inv.clinic.yi.name not in html
    assert "public" in response["Cache-Control"] and "max-age" in response["Cache-Control"]
    assert response["ETag"]
    by_city = anon.get("/p/institutions/", {"city": inv.clinic.jia.city}).content.decode()
    assert inv.clinic.jia.name in by_city
    assert anon.get("/p/institutions/", {"page": "999"}).status_code == 200  # the last page, not an error


def test_directory_pages_of_twenty(inv: Inv, anon) -> None:
    from meiguard.authz.tests.conftest import make_institution
    from meiguard.core.choices import OrganizationKind
    from meiguard.core.models import Organization

    for i in range(25):
        org = Organization.objects.create(
            name=f"测试机构{i:02d}", kind=OrganizationKind.INSTITUTION, province="湖南"
        )
        make_institution(org.pk, f"测试机构{i:02d}")
    first = anon.get("/p/institutions/", {"q": "测试机构"}).content.decode()
    second = anon.get("/p/institutions/", {"q": "测试机构", "page": 2}).content.decode()
    assert "测试机构00" in first and "测试机构20" not in first
    assert "测试机构20" in second and "2 / 2" in second


def test_institution_page_shows_licence_grade_subjects_and_prices(inv: Inv, anon) -> None:
    jia = inv.clinic.jia
    response = anon.get(reverse("public:institution", args=[jia.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert jia.name in html
    assert "许可证在有效期内,正常执业" in html
    assert jia.licence_no in html
    assert "可开展的手术级别" in html
    for label in jia.subject_labels():
        assert label in html
    assert "明码标价" in html and "¥1800.00" in html
    assert "公示" in html
    assert "协会承诺与授牌" in html  # the place for the association's scorecard (issue 15 part 5, not built)


def test_institution_page_is_cached_with_etag_and_a_fixed_query_count(
    inv: Inv, anon, django_assert_num_queries
) -> None:
    url = reverse("public:institution", args=[inv.clinic.jia.pk])
    with django_assert_num_queries(5):  # institution, rule-pack generation, price history, prices, grade
        first = anon.get(url)
    with django_assert_num_queries(0):  # the rendered page from the server cache
        second = anon.get(url)
    assert first.content == second.content
    assert first["ETag"] == second["ETag"]
    assert "Accept-Language" in first["Vary"] and "Cookie" in first["Vary"]
    not_modified = anon.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert not_modified.status_code == 304
    assert not_modified.content == b""


def test_query_count_does_not_grow_with_the_price_list(inv: Inv, anon, django_assert_num_queries) -> None:
    from decimal import Decimal

    from meiguard.clinical.tests.conftest import BREAST
    from meiguard.public import actions

    for price in ("1900", "2000", "2100"):
        actions.publish_price(
            inv.actor("zhao"), inv.clinic.jia.pk, procedure_code=BREAST, price=Decimal(price)
        )
    cache.clear()
    with django_assert_num_queries(5):
        anon.get(reverse("public:institution", args=[inv.clinic.jia.pk]))


def test_unknown_institution_is_404(anon, db) -> None:
    assert anon.get(reverse("public:institution", args=[999999])).status_code == 404


def test_directory_query_count(inv: Inv, anon, django_assert_num_queries) -> None:
    with django_assert_num_queries(3):  # count, page, cities
        anon.get("/p/institutions/", {"q": "诊所"})


def test_doctor_lookup_shows_public_facts_only(inv: Inv, anon) -> None:
    li = inv.clinic.li
    response = anon.get("/p/doctors/", {"name": li.name})
    html = response.content.decode()
    assert response.status_code == 200
    assert li.name in html
    assert inv.clinic.jia.name in html  # the practising institution
    assert "执业注册" in html and "执业类别" in html and "执业范围" in html
    assert li.licence_no not in html  # the licence number is not shown (docs/public.md)
    assert li.id_number not in html
    none = anon.get("/p/doctors/", {"name": "不存在的人"}).content.decode()
    assert "没有查到" in none
    at_other = anon.get("/p/doctors/", {"name": li.name, "institution": inv.clinic.yi.pk}).content.decode()
    assert "没有查到" in at_other


def test_doctor_lookup_needs_the_exact_name(inv: Inv, anon) -> None:
    part = inv.clinic.li.name[:1]
    html = anon.get("/p/doctors/", {"name": part}).content.decode()
    assert "没有查到" in html


def test_verify_a_trace_code_received_and_then_used(inv: Inv, anon) -> None:
    _line, codes = inv.box(2)
    fresh = anon.get("/p/verify/", {"code": codes[1]}).content.decode()
    assert "未发现问题" in fresh
    assert "经授权供应商验收入库" in fresh and inv.clinic.jia.name in fresh
    case = inv.open_case()
    inv.use(case, codes[0])
    used = anon.get("/p/verify/", {"code": codes[0]})
    html = used.content.decode()
    assert used.status_code == 200
    assert "已使用" in html and "发现问题" in html
    assert used["X-Robots-Tag"] == "noindex"


def test_verify_an_unknown_trace_code(inv: Inv, anon) -> None:
    html = anon.get("/p/verify/", {"code": trace_codes(1)[0]}).content.decode()
    assert "未查到该追溯码" in html


def test_verify_a_udi(inv: Inv, anon) -> None:
    from meiguard.authz.tests.conftest import SYSTEM
    from meiguard.registry import actions as reg

    reg.update_product(SYSTEM, inv.clinic.toxin.pk, udi_di="06901234567892")
    inv.box(1)
    html = anon.get("/p/verify/", {"code": "(01)06901234567892(17)301231(10)T2026R1"}).content.decode()
    assert "未发现问题" in html and "T2026R1" in html
    expired = anon.get("/p/verify/", {"code": "(01)06901234567892(17)200101(10)T2026R1"}).content.decode()
    assert "批次未过期" in expired and "发现问题" in expired
    unknown = anon.get("/p/verify/", {"code": "(01)09506000134352(10)X1"}).content.decode()
    assert "未查到该产品标识" in unknown
    bad = anon.get("/p/verify/", {"code": "not-a-code"})
    assert bad.status_code == 422
    assert "无法识别的条码" in bad.content.decode()


def test_robots_txt(anon, db) -> None:
    body = anon.get("/robots.txt").content.decode()
    assert "Allow: /p/institutions/" in body
    assert "Disallow: /p/c/" in body
    assert "Disallow: /\n" in body


def test_language_link_sets_the_cookie_and_stays_on_public_pages(anon, db) -> None:
    response = anon.get("/p/lang/en/", {"next": "/p/institutions/"})
    assert response.status_code == 302 and response["Location"] == "/p/institutions/"
    assert response.cookies["django_language"].value == "en"
    assert anon.get("/p/lang/en/", {"next": "https://evil.example/"})["Location"] == "/p/"
    assert anon.get("/p/lang/en/", {"next": "/admin/"})["Location"] == "/p/"
    html = anon.get("/p/").content.decode()
    assert 'lang="en"' in html


def test_lookups_and_verification_are_rate_limited(inv: Inv, anon, settings) -> None:
    settings.RATE_LIMITS_ENABLED = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "public_lookup": (3, 60), "public_verify": (2, 60)}
    for _ in range(3):
        assert anon.get("/p/institutions/", {"q": "甲"}).status_code == 200
    limited = anon.get("/p/institutions/", {"q": "甲"})
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
    assert anon.get("/p/institutions/").status_code == 200  # browsing the directory is not a lookup
    code = trace_codes(1)[0]
    assert anon.get("/p/verify/", {"code": code}).status_code == 200
    assert anon.get("/p/verify/", {"code": code}).status_code == 200
    assert anon.get("/p/verify/", {"code": code}).status_code == 429


def test_signed_in_staff_get_no_store(inv: Inv) -> None:
    staff = inv.clin.world.client("zhao")
    response = staff.get(reverse("public:institution", args=[inv.clinic.jia.pk]))
    assert "no-store" in response["Cache-Control"]
    assert "public" not in response["Cache-Control"]


def test_closed_institution_is_shown_as_not_practising(inv: Inv, anon) -> None:
    from meiguard.registry.models import Institution

    Institution.objects.filter(pk=inv.clinic.jia.pk).update(licence_valid_until=dt.date(2020, 1, 1))
    html = anon.get(reverse("public:institution", args=[inv.clinic.jia.pk])).content.decode()
    assert "许可证不在有效期内或未正常执业" in html


def test_cached_pages_are_answered_before_the_stack_with_the_same_headers(
    inv: Inv, anon, monkeypatch
) -> None:
    from meiguard.public import views

    url = reverse("public:institution", args=[inv.clinic.jia.pk])
    first = anon.get(url)
    calls = []
    monkeypatch.setattr(views.queries, "institution", lambda *a, **k: calls.append(a))
    second = anon.get(url)
    assert calls == []  # the middleware answered
    assert second.content == first.content
    for header in ("ETag", "Cache-Control", "Vary", "Content-Security-Policy", "X-Frame-Options"):
        assert second[header] == first[header], header
    assert anon.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    english = anon.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert 'lang="en"' in english.content.decode()  # a language of its own
