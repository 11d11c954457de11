"""Verify before treatment: the staff case page's QR code → the public page of every check; expired and
tampered tokens are refused; a recalled lot turns the page red; nothing is written to the decision log."""

from __future__ import annotations

import time
import types

import pytest
from django.core import signing
from django.urls import reverse

from meiguard.audit.models import AuditEntry
from meiguard.authz.models import DecisionLog
from meiguard.inventory import recall
from meiguard.public import tokens
from meiguard.public.tests.conftest import Inv

pytestmark = pytest.mark.django_db


def _used_case(inv: Inv):
    line, codes = inv.box(3)
    case = inv.open_case()
    inv.use(case, codes[0])
    return case, line, codes


def _url(case_id: int) -> str:
    return reverse("public:case", args=[tokens.make(case_id)])


def test_staff_case_page_shows_the_qr_button_and_the_qr_page(inv: Inv) -> None:
    case = inv.clin.case()
    staff = inv.clin.world.client("zhao")
    page = staff.get(reverse("clinical:case", args=[case.pk]))
    assert page.status_code == 200
    assert 'data-testid="case-qr-button"' in page.content.decode()
    qr = staff.get(reverse("publishing:case_qr", args=[case.pk]))
    html = qr.content.decode()
    assert qr.status_code == 200
    assert "data:image/svg+xml;base64," in html
    link = html.split('data-testid="case-qr-link"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert "/p/c/" in link
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert tokens.read(token) == case.pk
    # The token carries the case id and the purpose only.
    payload = signing.TimestampSigner(salt=tokens.SALT).unsign_object(token)
    assert payload == {"c": case.pk, "p": "verify"}
    assert AuditEntry.objects.filter(action="public.verifytoken.issued", object_id=str(case.pk)).exists()


def test_qr_is_for_staff_of_the_case_institution_only(inv: Inv) -> None:
    case = inv.clin.case()
    assert inv.clin.world.client("sun").get(reverse("publishing:case_qr", args=[case.pk])).status_code == 404
    anon_page = inv.clin.world.client("qian").get(reverse("publishing:case_qr", args=[case.pk]))
    assert anon_page.status_code == 403  # the overseeing auditor reads the case but shows no QR code


def test_a_closed_case_gets_no_qr(inv: Inv) -> None:
    from meiguard.clinical.models import Case

    case = inv.clin.case()
    Case.objects.filter(pk=case.pk).update(status="closed")
    response = inv.clin.world.client("zhao").get(reverse("publishing:case_qr", args=[case.pk]))
    assert response.status_code == 409


def test_the_client_sees_every_check(inv: Inv, anon) -> None:
    case, _line, _codes = _used_case(inv)
    logs = DecisionLog.objects.count()
    response = anon.get(_url(case.pk))
    html = response.content.decode()
    assert response.status_code == 200
    assert "核验通过" in html
    assert inv.clinic.jia.name in html
    assert inv.clinic.li.name in html
    assert case.procedure_name in html
    assert "T2026R1" in html  # the lot
    for label in ("执业许可证有效", "执业注册", "产品注册证在有效期内", "批次未过期", "批次未被召回"):
        assert label in html, label
    assert "经授权供应商验收入库" in html
    assert "此包装未被使用过" in html
    assert 'class="bad"' not in html
    assert response["X-Robots-Tag"].startswith("noindex")
    assert "no-store" in response["Cache-Control"]
    assert '<meta name="robots" content="noindex, nofollow">' in html
    assert DecisionLog.objects.count() == logs  # a public check is a simulation: nothing logged


def test_the_page_is_rendered_once_per_state(inv: Inv, anon, django_assert_num_queries) -> None:
    case, _line, codes = _used_case(inv)
    url = _url(case.pk)
    first = anon.get(url).content
    with django_assert_num_queries(3):  # the case row, its products, the rules generation: same state
        again = anon.get(url).content
    assert again == first
    inv.use(case, codes[1])  # one more unit recorded: a new state, a new page
    assert anon.get(url).content.decode().count("T2026R1") == 2


def test_a_recalled_lot_shows_red(inv: Inv, anon, django_capture_on_commit_callbacks) -> None:
    case, line, _codes = _used_case(inv)
    assert "核验通过" in anon.get(_url(case.pk)).content.decode()  # rendered and cached while green
    with django_capture_on_commit_callbacks(execute=True):  # the engine's snapshot cache is bumped on commit
        recall.recall_lot(inv.actor("zhao"), line.lot_id, level=1, reason="厂家召回通知")
    html = anon.get(_url(case.pk)).content.decode()
    assert "核验未通过" in html
    assert "已被召回" in html
    assert "LOT_RECALLED" in html  # the engine's reason, as a secondary chip


def test_an_expired_token_is_refused(inv: Inv, anon, settings, monkeypatch) -> None:
    case = inv.clin.case()
    url = _url(case.pk)
    later = time.time() + settings.PUBLIC_VERIFY_TOKEN_TTL + 5
    monkeypatch.setattr(signing, "time", types.SimpleNamespace(time=lambda: later))
    response = anon.get(url)
    assert response.status_code == 410
    html = response.content.decode()
    assert "二维码已过期" in html
    assert case.procedure_name not in html


def test_a_token_just_within_its_lifetime_still_works(inv: Inv, anon, settings, monkeypatch) -> None:
    case = inv.clin.case()
    url = _url(case.pk)
    later = time.time() + settings.PUBLIC_VERIFY_TOKEN_TTL - 60
    monkeypatch.setattr(signing, "time", types.SimpleNamespace(time=lambda: later))
    assert anon.get(url).status_code == 200


@pytest.mark.parametrize(
    "token",
    [
        "nonsense",
        "x" * 300,
        signing.TimestampSigner(salt="other").sign_object({"c": 1, "p": "verify"}),
    ],
)
def test_a_tampered_token_is_refused(inv: Inv, anon, token: str) -> None:
    response = anon.get(reverse("public:case", args=[token]))
    assert response.status_code == 404
    assert "二维码无效" in response.content.decode()


def test_a_token_with_another_case_id_is_refused(inv: Inv, anon) -> None:
    case = inv.clin.case()
    token = tokens.make(case.pk)
    value, rest = token.split(":", 1)
    forged = tokens.make(case.pk + 1).split(":", 1)[0] + ":" + rest
    assert anon.get(reverse("public:case", args=[forged])).status_code == 404
    assert value  # the genuine one still reads
    assert anon.get(reverse("public:case", args=[token])).status_code == 200


def test_english(inv: Inv, anon) -> None:
    case, _line, _codes = _used_case(inv)
    anon.cookies["django_language"] = "en"
    html = anon.get(_url(case.pk)).content.decode()
    assert "Verification before treatment" in html


def test_case_pages_are_rate_limited_even_when_cached(inv: Inv, anon, settings) -> None:
    settings.RATE_LIMITS_ENABLED = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "public_verify": (2, 60)}
    case = inv.clin.case()
    url = _url(case.pk)
    assert anon.get(url).status_code == 200
    assert anon.get(url).status_code == 200  # from the cache
    limited = anon.get(url)
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
    assert anon.get(reverse("public:case", args=["broken"])).status_code == 429
