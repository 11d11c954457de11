"""Files that are not the chosen format are refused outright (400 in the API), naming every problem."""

import pytest

from meiguard.authz.tests.conftest import id_number
from meiguard.bulk import actions, workbook
from meiguard.bulk.models import ImportRun
from meiguard.bulk.specs import PRACTITIONERS, QUALIFICATIONS
from meiguard.bulk.tests.conftest import nurse_row, sheet, xlsx
from meiguard.bulk.workbook import FileRejected


def rejected(world, content, *, kind="practitioners", name="人员.xlsx"):
    with pytest.raises(FileRejected) as exc:
        actions.dry_run(world.actor("wang"), kind=kind, file_name=name, content=content)
    assert exc.value.status == 400
    assert ImportRun.objects.count() == 0
    return exc.value.problems


def test_garbage_bytes_are_not_a_workbook(world):
    assert rejected(world, b"\x00\x01not a spreadsheet at all") == [
        "文件不是有效的 .xlsx 工作簿(可能已损坏,或只是改了扩展名)"
    ]


def test_a_zip_that_is_not_a_workbook_is_refused(world):
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "hi")
    assert rejected(world, buf.getvalue()) == ["文件不是有效的 .xlsx 工作簿(可能已损坏,或只是改了扩展名)"]


def test_old_xls_and_other_extensions_are_refused(world):
    content = xlsx({"执业人员": [PRACTITIONERS.headers]})
    assert rejected(world, content, name="人员.xls") == [
        "不支持旧版 .xls 文件,请在 Excel 中“另存为” .xlsx 后上传"
    ]
    assert rejected(world, content, name="人员.csv") == ["只接受 Excel .xlsx 文件(当前文件:人员.csv)"]


def test_empty_files_and_files_without_rows_are_refused(world):
    assert rejected(world, b"") == ["文件为空"]
    assert rejected(world, xlsx({"执业人员": [PRACTITIONERS.headers]})) == [
        "文件中没有数据行(数据应从第2行开始)"
    ]


def test_wrong_headers_list_every_missing_extra_and_duplicate_column(world):
    headers = list(PRACTITIONERS.headers)
    headers.remove("身份证号")
    headers[0] = "机构代码"
    headers += ["备注", None, "姓名"]
    content = xlsx({"执业人员": [headers, ["x"] * len(headers)]})
    assert rejected(world, content) == [
        "工作表“执业人员”第 A 列“机构代码”不是模板中的列",
        "工作表“执业人员”第 I 列“备注”不是模板中的列",
        "工作表“执业人员”第 J 列没有列名(第1行必须是模板中的列名)",
        "工作表“执业人员”中列“姓名”出现了多次(第 B、K 列)",
        "工作表“执业人员”缺少列“主执业机构统一社会信用代码”",
        "工作表“执业人员”缺少列“身份证号”",
    ]


def test_missing_and_foreign_sheets_are_named(world):
    content = xlsx({"Sheet1": [["a"]], "资质": sheet(QUALIFICATIONS)})
    assert rejected(world, content) == [
        "工作表“Sheet1”不属于本次导入内容(执业人员);请删除该工作表或选择正确的导入内容",
        "工作表“资质”不属于本次导入内容(执业人员);请删除该工作表或选择正确的导入内容",
        "缺少工作表“执业人员”",
    ]
    full = rejected(world, xlsx({"执业人员": sheet(PRACTITIONERS)}), kind="full")
    assert full == ["缺少工作表“资质”", "缺少工作表“授权”"]


def test_columns_may_come_in_any_order(clinic, world):
    row = nurse_row(clinic.jia.credit_code, id_number())
    columns = list(reversed(PRACTITIONERS.columns))
    content = xlsx({"执业人员": [[c.header for c in columns], [row[c.key] for c in columns]]})
    run = actions.dry_run(world.actor("wang"), kind="practitioners", file_name="x.xlsx", content=content)
    assert run.status == "valid"
    assert run.totals()["create"] == 1


def test_too_many_rows_and_too_large_files_are_refused(clinic, world, monkeypatch):
    monkeypatch.setattr(workbook, "MAX_ROWS", 2)
    rows = [nurse_row(clinic.jia.credit_code, id_number()) for _ in range(3)]
    assert rejected(world, xlsx({"执业人员": sheet(PRACTITIONERS, *rows)})) == [
        "工作表“执业人员”数据超过 2 行,请分批导入"
    ]
    monkeypatch.setattr(actions, "MAX_UPLOAD_BYTES", 1024)
    assert rejected(world, b"PK" + b"x" * 2048) == ["文件过大(2 KB),最大 1 KB"]


def test_blank_rows_are_skipped_and_row_numbers_stay_those_excel_shows(clinic, world):
    row = nurse_row(clinic.jia.credit_code, "bad")
    content = xlsx(
        {
            "执业人员": [
                PRACTITIONERS.headers,
                [None] * 9,
                ["  "] * 9,
                [row[c.key] for c in PRACTITIONERS.columns],
            ]
        }
    )
    run = actions.dry_run(world.actor("wang"), kind="practitioners", file_name="x.xlsx", content=content)
    assert [(e["row"], e["cell"]) for e in run.errors] == [(4, "C4")]
