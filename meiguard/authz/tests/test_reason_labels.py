"""Reasons read as sentences with named facts in both languages; the raw code is only a <code> chip."""

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from meiguard.registry import actions as reg

from .conftest import SYSTEM

HTMX = {"HTTP_HX_REQUEST": "true"}
# a reason or procedure code outside a <code> element
RAW_CODE = re.compile(r"\b[A-Z]{3,}_[A-Z_]{3,}\b")


def _outside_code(html: str) -> str:
    body = html.split("<main", 1)[-1]
    body = re.sub(r"<code\b[^>]*>.*?</code>", "", body, flags=re.S)
    body = re.sub(r"<(script|style)\b.*?</\1>", "", body, flags=re.S)
    return re.sub(r"<[^>]+>", " ", body)


def _form(clinic, **changes):
    data = {
        "institution": str(clinic.jia.pk),
        "practitioner": str(clinic.li.pk),
        "procedure": "derm-botulinum-toxin-injection",
        "at": "2026-03-03T10:00",
        "lot_0": str(clinic.lot.pk),
        "dose_value_0": "250",
        "dose_unit_0": "U",
        "devices": [str(clinic.device.pk)],
    }
    data.update(changes)
    return data


def _deny(clinic, lang):
    reg.change_lot_status(SYSTEM, clinic.lot.pk, status="recalled", recall_level=1, reason="厂家召回")
    c = clinic.world.client("zhao")
    html = c.post("/authz/check/", _form(clinic), HTTP_ACCEPT_LANGUAGE=lang, **HTMX).content.decode()
    return c, html


def test_check_result_in_chinese_names_facts_and_keeps_codes_in_chips(clinic):
    _c, html = _deny(clinic, "zh-hans")
    assert '<code class="code-chip" title="原因代码">LOT_RECALLED</code>' in html
    assert "<dt>批次</dt>" in html and "<dt>上限</dt><dd>200U</dd>" in html
    text = _outside_code(html)
    assert not RAW_CODE.findall(text), RAW_CODE.findall(text)
    assert "derm-botulinum-toxin-injection" not in text


def test_check_result_in_english_has_english_fact_names(clinic):
    _c, html = _deny(clinic, "en")
    assert "<dt>Limit</dt><dd>200U</dd>" in html and "<dt>Lots</dt>" in html
    assert "<dt>上限</dt>" not in html
    assert not RAW_CODE.findall(_outside_code(html))


def test_decision_log_and_detail_show_messages_not_bare_codes(clinic):
    c, _html = _deny(clinic, "zh-hans")
    from meiguard.authz.models import DecisionLog

    row = DecisionLog.objects.latest("pk")
    for lang, words in (("zh-hans", "已被召回"), ("en", "recalled")):
        listing = c.get("/authz/decisions/", HTTP_ACCEPT_LANGUAGE=lang).content.decode()
        assert words in listing and '<code class="code-chip">LOT_RECALLED</code>' in listing
        assert not RAW_CODE.findall(_outside_code(listing))
        detail = c.get(f"/authz/decisions/{row.pk}/", HTTP_ACCEPT_LANGUAGE=lang).content.decode()
        assert words in detail
        text = _outside_code(detail)
        assert not RAW_CODE.findall(text), RAW_CODE.findall(text)
        assert "derm-botulinum-toxin-injection" not in text
    en = c.get(f"/authz/decisions/{row.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Botulinum" in _outside_code(en)


def test_decision_log_query_count_does_not_grow_with_rows(clinic, django_assert_max_num_queries):
    c, _html = _deny(clinic, "zh-hans")
    c.get("/authz/decisions/")
    with CaptureQueriesContext(connection) as first:
        c.get("/authz/decisions/")
    baseline = len(first.captured_queries)  # read now: the next request resets the query log
    for _i in range(5):
        c.post("/authz/check/", _form(clinic), **HTMX)
    assert 0 < baseline <= 30
    with django_assert_max_num_queries(baseline):
        c.get("/authz/decisions/")
