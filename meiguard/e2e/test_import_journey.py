"""Bulk import in a real browser: a file with errors writes nothing; the corrected file is written.

甲's compliance officer downloads the 执业人员 template from /bulk/, fills it in (openpyxl, in the downloaded
workbook itself) with two good rows and two bad ones, and uploads it. The run page lists every error with its
row, column, cell and Chinese message — the same list the database holds — says nothing was written and
offers no 确认导入; practitioners, qualifications and audit entries are unchanged. The corrected file's dry
run is clean, and 确认导入 writes the four people (each audited) and the run's own audit entry.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from meiguard.audit.models import AuditEntry
from meiguard.bulk.models import ImportRun
from meiguard.bulk.specs import PRACTITIONERS
from meiguard.demo import codes
from meiguard.registry.models import Practitioner, Qualification

from .conftest import login

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REGION = "110105"  # 北京 ID numbers: never one of the clinic fixture's (430102)


def _people(credit_code: str) -> list[dict[str, Any]]:
    """Four valid 执业人员 rows, as a user would type them (labels, not codes)."""
    base = {"institution": credit_code, "practice_category": "", "practice_scope": ""}
    return [
        base
        | {
            "name": "周护士",
            "id_number": codes.id_number(101, REGION),
            "profession": "护士",
            "licence_no": "N2020123456",
            "practice_category": "护理",
            "practice_scope": "护理",
            "title": "护师",
            "practising_since": "2019-07-01",
        },
        base
        | {
            "name": "吴医生",
            "id_number": codes.id_number(102, REGION),
            "profession": "医师",
            "licence_no": "110430000123456",
            "practice_category": "临床",
            "practice_scope": "外科",
            "title": "主治医师",
            "practising_since": "2015-09-01",
        },
        base
        | {
            "name": "郑医生",
            "id_number": codes.id_number(103, REGION),
            "profession": "医师",
            "licence_no": "110430000123457",
            "practice_category": "临床",
            "practice_scope": "皮肤病与性病",
            "title": "副主任医师",
            "practising_since": "2010-03-01",
        },
        base
        | {
            "name": "冯护士",
            "id_number": codes.id_number(104, REGION),
            "profession": "护士",
            "licence_no": "N2021654321",
            "practice_category": "护理",
            "practice_scope": "护理",
            "title": "护士",
            "practising_since": "2021-08-01",
        },
    ]


def _workbook(template: Path, rows: list[dict[str, Any]]) -> bytes:
    """The downloaded template with ``rows`` typed into its 执业人员 sheet from row 2."""
    wb = load_workbook(template)
    ws = wb[PRACTITIONERS.title]
    for row in rows:
        ws.append([row.get(c.key) for c in PRACTITIONERS.columns])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _upload(page: Page, name: str, content: bytes) -> None:
    page.goto("/bulk/")
    upload = page.get_by_role("region", name="2. 上传并试运行")
    upload.get_by_label("导入内容").select_option("practitioners")
    upload.get_by_label("Excel 文件(.xlsx)").set_input_files(
        {"name": name, "mimeType": XLSX, "buffer": content}
    )
    upload.get_by_role("button", name="试运行(不写入)").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("导入记录 #")


def _counts() -> tuple[int, int, int]:
    return Practitioner.objects.count(), Qualification.objects.count(), AuditEntry.objects.count()


def test_a_file_with_errors_writes_nothing_and_the_corrected_file_is_imported(page, clinic, shot, tmp_path):
    login(page, "zhao")
    page.goto("/bulk/")
    expect(page.get_by_role("heading", name="批量导入导出", level=1)).to_be_visible()
    shot(page, "bulk-hub")

    # 1. The template, downloaded through its link.
    templates = page.get_by_role("region", name="1. 下载模板")
    with page.expect_download() as info:
        templates.get_by_role("link", name="执业人员", exact=True).click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx"), download.suggested_filename
    template = tmp_path / download.suggested_filename
    download.save_as(template)
    wb = load_workbook(template)
    assert PRACTITIONERS.title in wb.sheetnames and "填写说明" in wb.sheetnames
    assert [c.value for c in wb[PRACTITIONERS.title][1]] == list(PRACTITIONERS.headers)
    assert wb[PRACTITIONERS.title].max_row == 1  # headers only

    # 2. Two good rows and two bad ones: a wrong ID check digit; no name and an unknown profession.
    good = _people(clinic.jia.credit_code)
    wrong_digit = good[2]["id_number"][:-1] + ("0" if good[2]["id_number"][-1] != "0" else "1")
    bad_rows = [good[2] | {"id_number": wrong_digit}, good[3] | {"name": "", "profession": "厨师"}]
    before = _counts()
    _upload(page, "执业人员-有错误.xlsx", _workbook(template, good[:2] + bad_rows))

    run = ImportRun.objects.latest("pk")
    assert (run.mode, run.status) == ("dry_run", "invalid")
    expect(page.get_by_role("alert")).to_contain_text(f"发现 {len(run.errors)} 处错误,没有写入任何数据。")
    table = page.locator("#import-errors")
    expect(table.get_by_role("caption")).to_contain_text(f"共 {len(run.errors)} 处错误")
    shown = [
        [cell.strip() for cell in tr.locator("th, td").all_inner_texts()]
        for tr in table.locator("tbody tr").all()
    ]
    # The page lists exactly the errors the run recorded: sheet, row as in Excel, column, cell, message.
    assert shown == [
        [e["sheet"], str(e["row"]), e["column"] or "—", e["cell"], e["message"]] for e in run.errors
    ]
    by_cell = {row[3]: row for row in shown}
    assert sorted(by_cell) == ["B5", "C4", "D5"], shown
    assert {row[1] for row in shown} == {"4", "5"}  # the good rows 2 and 3 have none
    assert by_cell["C4"][:3] == ["执业人员", "4", "身份证号"]
    assert by_cell["B5"][2:] == ["姓名", "B5", "必填项,不能为空"]
    assert by_cell["D5"][2] == "职业" and "厨师" in by_cell["D5"][4]
    for row in shown:
        assert re.search(r"[\u4e00-\u9fff]", row[4]), row  # a Chinese message
    expect(page.get_by_role("button", name="确认导入")).to_have_count(0)
    shot(page, "dry-run-errors")
    assert _counts() == before  # nothing written, not even an audit entry

    # 3. The corrected file: a clean dry run, then 确认导入.
    _upload(page, "执业人员-已更正.xlsx", _workbook(template, good))
    dry = ImportRun.objects.latest("pk")
    assert (dry.mode, dry.status, dry.total("create")) == ("dry_run", "valid", 4)
    expect(page.locator("#import-errors")).to_have_count(0)
    apply = page.get_by_role("region", name="确认导入")
    expect(apply).to_contain_text("将新增 4 行")
    changes = page.locator("#import-changes tbody tr")
    expect(changes).to_have_count(4)
    shot(page, "dry-run-clean")
    assert _counts() == before

    apply.get_by_role("button", name="确认导入").click()
    expect(page.get_by_text("导入完成,已写入全部数据")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="已导入")).to_contain_text("全部行已写入")
    shot(page, "applied")

    applied = ImportRun.objects.latest("pk")
    assert (applied.mode, applied.status, applied.source_id) == ("apply", "applied", dry.pk)
    names = set(
        Practitioner.objects.filter(
            main_institution=clinic.jia, name__in=[p["name"] for p in good]
        ).values_list("name", flat=True)
    )
    assert names == {"周护士", "吴医生", "郑医生", "冯护士"}
    people, qualifications, entries = _counts()
    assert (people, qualifications) == (before[0] + 4, before[1])
    created = AuditEntry.objects.filter(action="registry.practitioner.created").count()
    assert created == 4 + 2  # the four imported, and the clinic fixture's 李医生 and 孙医生
    assert AuditEntry.objects.filter(action="bulk.importrun.applied").count() == 1
    assert entries == before[2] + 4 + 1
