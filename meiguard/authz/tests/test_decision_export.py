"""The decision-log Excel export (issue 16): reasons as readable messages in the reader's language, and their
codes in a separate column."""

from __future__ import annotations

import io

from django.utils import timezone
from openpyxl import load_workbook

from meiguard.authz.reasons import message_for
from meiguard.workspace.tests import helpers as h


def _sheet(response) -> list[list[object]]:
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(response.content))
    return [[c.value for c in row] for row in wb.worksheets[0].iter_rows()]


def test_reasons_are_readable_and_codes_stand_apart(clinic):
    deny = h.decide(clinic, at=timezone.now(), deny=True)
    assert deny.reason_codes
    header, *body = _sheet(clinic.world.client("zhao").get("/authz/decisions/?format=xlsx&outcome=deny"))
    assert "原因" in header and "原因代码" in header
    row = body[0]
    readable = str(row[header.index("原因")])
    codes = str(row[header.index("原因代码")])
    assert codes == "、".join(deny.reason_codes)
    for reason in deny.reasons:
        assert message_for(reason["code"], reason.get("facts")) in readable.split("\n")
        assert reason["code"] not in readable  # codes only in their own column
    assert len(readable.split("\n")) == len(deny.reasons)


def test_english_export_has_english_reasons(clinic):
    h.decide(clinic, at=timezone.now(), deny=True)
    header, *body = _sheet(
        clinic.world.client("zhao").get(
            "/authz/decisions/?format=xlsx&outcome=deny", HTTP_ACCEPT_LANGUAGE="en"
        )
    )
    assert "Reason" in header and "Reason codes" in header
    readable = str(body[0][header.index("Reason")])
    assert readable and not any("\u4e00" <= ch <= "\u9fff" for ch in readable)


def test_an_allowed_check_has_empty_reasons(clinic):
    allow = h.decide(clinic, at=timezone.now())
    header, *body = _sheet(clinic.world.client("zhao").get("/authz/decisions/?format=xlsx&outcome=allow"))
    assert [r[0] for r in body] == [allow.pk]
    assert body[0][header.index("原因")] in (None, "")
