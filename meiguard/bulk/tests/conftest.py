"""Fixtures for bulk tests: the authz ``clinic`` (甲 with 李医生 and three active authorizations, 乙 of ``sun``)
and helpers that build workbooks in memory with openpyxl."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from meiguard.authz.tests.conftest import clinic  # noqa: F401  (re-exported fixture)
from meiguard.bulk.specs import SHEETS, SheetSpec


def xlsx(sheets: dict[str, Sequence[Sequence[Any]]]) -> bytes:
    """A workbook with the given sheets (first row = headers), as bytes."""
    wb = Workbook()
    default = wb.active
    wb.remove(default)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def sheet(spec: SheetSpec, *rows: dict[str, Any]) -> list[list[Any]]:
    """Header row plus one row per dict (column key → cell value; missing keys are blank)."""
    return [spec.headers, *[[r.get(c.key) for c in spec.columns] for r in rows]]


def read_rows(content: bytes) -> dict[str, list[list[Any]]]:
    """Every data sheet's rows (header included) as plain values."""
    wb = load_workbook(io.BytesIO(content))
    titles = {s.title for s in SHEETS.values()}
    return {
        ws.title: [list(r) for r in ws.iter_rows(values_only=True)]
        for ws in wb.worksheets
        if ws.title in titles
    }


@pytest.fixture
def clinic_db(clinic, django_capture_on_commit_callbacks):  # noqa: F811
    return clinic


def nurse_row(institution_code: str, number: str, **changes: Any) -> dict[str, Any]:
    """A valid 执业人员 row for a nurse (cell values as a user would type them)."""
    row = {
        "institution": institution_code,
        "name": "周护士",
        "id_number": number,
        "profession": "护士",
        "licence_no": "N2020123456",
        "practice_category": "护理",
        "practice_scope": "护理",
        "title": "护师",
        "practising_since": "2019-07-01",
    }
    row.update(changes)
    return row


def doctor_row(institution_code: str, number: str, **changes: Any) -> dict[str, Any]:
    row = {
        "institution": institution_code,
        "name": "吴医生",
        "id_number": number,
        "profession": "医师",
        "licence_no": "110430000123456",
        "practice_category": "临床",
        "practice_scope": "外科",
        "title": "主治医师",
        "practising_since": "2015-09-01",
    }
    row.update(changes)
    return row


def qualification_row(id_no: str, person: str, **changes: Any) -> dict[str, Any]:
    row = {
        "practitioner": id_no,
        "practitioner_name": person,
        "kind": "护士执业注册",
        "number": "HS2020001",
        "issuer": "湖南省卫生健康委员会",
        "valid_from": "2020-01-01",
        "valid_until": "2030-12-31",
    }
    row.update(changes)
    return row


def authorization_row(
    institution_code: str, id_no: str, person: str | None, **changes: Any
) -> dict[str, Any]:
    row = {
        "institution": institution_code,
        "kind": "产品授权",
        "practitioner": id_no,
        "practitioner_name": person,
        "product_brand": "乔雅登",
        "valid_from": "2026-01-01",
        "valid_until": "2027-12-31",
        "status": "草稿",
    }
    row.update(changes)
    return row
