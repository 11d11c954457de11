"""The template: header row, drop-downs, frozen header, widths, “填写说明”, “机构代码”."""

import io

import pytest
from openpyxl import load_workbook

from meiguard.bulk import exporters
from meiguard.bulk.specs import (
    AUTHORIZATIONS,
    INSTITUTIONS_SHEET,
    INSTRUCTIONS_SHEET,
    OPTIONS_SHEET,
    PRACTITIONERS,
    QUALIFICATIONS,
    SHEETS_BY_KIND,
    ColumnType,
)


def _open(content: bytes):
    return load_workbook(io.BytesIO(content))


def _validations(ws):
    """{column letter: DataValidation} for the data validations of a sheet."""
    out = {}
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            out[rng.coord.split(":")[0].rstrip("0123456789")] = dv
    return out


@pytest.mark.parametrize("kind", list(SHEETS_BY_KIND))
def test_it_writes_the_header_row_of_every_sheet_of_the_kind(clinic, world, kind):
    wb = _open(exporters.template(world.actor("wang"), kind))
    specs = SHEETS_BY_KIND[kind]
    assert wb.sheetnames[: len(specs)] == [s.title for s in specs]
    assert set(wb.sheetnames[len(specs) :]) == {INSTRUCTIONS_SHEET, INSTITUTIONS_SHEET, OPTIONS_SHEET}
    for spec in specs:
        ws = wb[spec.title]
        assert [c.value for c in ws[1]] == spec.headers
        assert ws.max_row == 1  # no data rows
        assert ws.freeze_panes == "A2"
        for column in spec.columns:
            assert ws.cell(row=1, column=spec.columns.index(column) + 1).comment is not None


def test_practitioner_headers_are_the_chinese_format():
    assert PRACTITIONERS.headers == [
        "主执业机构统一社会信用代码",
        "姓名",
        "身份证号",
        "职业",
        "执业证书编码",
        "执业类别",
        "执业范围",
        "职称",
        "开始执业日期",
    ]
    assert QUALIFICATIONS.headers[:3] == ["身份证号", "姓名", "资质类型"]
    assert AUTHORIZATIONS.headers[0] == "授权机构统一社会信用代码"


def test_choice_columns_have_drop_downs_listing_the_chinese_labels(clinic, world):
    wb = _open(exporters.template(world.actor("wang"), "full"))
    options = wb[OPTIONS_SHEET]
    assert options.sheet_state == "hidden"
    ws = wb[PRACTITIONERS.title]
    dvs = _validations(ws)
    profession = dvs["D"]  # 职业
    assert profession.type == "list"
    assert profession.showErrorMessage
    sheet_name, cells = profession.formula1.split("!")
    assert sheet_name == f"'{OPTIONS_SHEET}'"
    first, last = cells.replace("$", "").split(":")
    values = [c.value for (c,) in options[f"{first}:{last}"]]
    assert values == ["医师", "护士", "麻醉医师", "咨询师", "技师"]
    assert str(profession.sqref) == "D2:D1001"
    # the 执业范围 list holds every scope, 职称 every title
    scope_first, scope_last = dvs["G"].formula1.split("!")[1].replace("$", "").split(":")
    assert "皮肤病与性病" in [c.value for (c,) in options[f"{scope_first}:{scope_last}"]]


def test_whole_number_and_institution_columns_are_validated(clinic, world):
    wb = _open(exporters.template(world.actor("wang"), "authorizations"))
    dvs = _validations(wb[AUTHORIZATIONS.title])
    grade = dvs["Q"]  # 最高手术级别
    assert (grade.type, grade.operator, grade.formula1, grade.formula2) == ("whole", "between", "1", "4")
    inst = dvs["A"]
    assert inst.type == "list" and inst.errorStyle == "warning"
    assert inst.formula1 == f"'{INSTITUTIONS_SHEET}'!$B$2:$B$2"


def test_the_institutions_sheet_lists_what_the_actor_may_import_into(clinic, world):
    wb = _open(exporters.template(world.actor("wang"), "practitioners"))
    rows = [list(r) for r in wb[INSTITUTIONS_SHEET].iter_rows(values_only=True)]
    assert rows == [["机构名称", "统一社会信用代码", "省份"], ["甲诊所", clinic.jia.credit_code, "湖南"]]
    # sun manages 乙 only; a doctor manages nothing
    sun = _open(exporters.template(world.actor("sun"), "practitioners"))
    assert [r[1] for r in sun[INSTITUTIONS_SHEET].iter_rows(min_row=2, values_only=True)] == [
        clinic.yi.credit_code
    ]
    li = _open(exporters.template(world.actor("li"), "practitioners"))
    assert li[INSTITUTIONS_SHEET].max_row == 1


def test_the_instructions_sheet_describes_every_column(clinic, world):
    wb = _open(exporters.template(world.actor("wang"), "full"))
    rows = [list(r) for r in wb[INSTRUCTIONS_SHEET].iter_rows(values_only=True)]
    header = rows.index(["工作表", "列名", "是否必填", "格式", "可选值", "说明"])
    described = {(r[0], r[1]): r for r in rows[header + 1 :]}
    for spec in SHEETS_BY_KIND["full"]:
        for column in spec.columns:
            row = described[(spec.title, column.header)]
            assert row[2] == ("必填" if column.required else "选填")
            assert row[3] == column.format_text()
            if column.type == ColumnType.CHOICE:
                assert all(label in row[4] for label in column.labels())
    assert described[("执业人员", "职称")][4].endswith("(留空为“无”)")
    assert any("识别规则" in (r[0] or "") for r in rows[:header])


def test_columns_are_wide_enough_and_formatted(clinic, world):
    wb = _open(exporters.template(world.actor("wang"), "practitioners"))
    ws = wb[PRACTITIONERS.title]
    assert ws.column_dimensions["A"].width >= len("主执业机构统一社会信用代码") * 2
    assert ws.column_dimensions["C"].width >= 18  # 身份证号
    assert ws.column_dimensions["C"].number_format == "@"  # typed ID numbers stay text
    assert ws.column_dimensions["I"].number_format == "yyyy-mm-dd"


def test_template_and_export_share_the_format(clinic, world):
    wang = world.actor("wang")
    template = _open(exporters.template(wang, "full"))
    export = _open(exporters.export(wang, "full"))
    for spec in SHEETS_BY_KIND["full"]:
        assert [c.value for c in template[spec.title][1]] == [c.value for c in export[spec.title][1]]
        assert _validations(template[spec.title]).keys() == _validations(export[spec.title]).keys()
