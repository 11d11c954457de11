"""Each class of error is reported as (sheet, row as Excel shows it, column header, Chinese message), all of them."""

import datetime as dt

import pytest

from meiguard.authz.tests.conftest import credit_code, id_number
from meiguard.bulk import actions
from meiguard.bulk.specs import AUTHORIZATIONS, PRACTITIONERS, QUALIFICATIONS
from meiguard.bulk.tests.conftest import (
    authorization_row,
    doctor_row,
    nurse_row,
    qualification_row,
    sheet,
    xlsx,
)
from meiguard.registry.crypto import mask_id_number


def dry(actor, kind, sheets):
    return actions.dry_run(actor, kind=kind, file_name="导入.xlsx", content=xlsx(sheets))


def errors(run):
    return [(e["sheet"], e["row"], e["column"], e["message"]) for e in run.errors]


def one_practitioner(world, clinic, **changes):
    row = nurse_row(clinic.jia.credit_code, id_number(), **changes)
    return dry(world.actor("wang"), "practitioners", {"执业人员": sheet(PRACTITIONERS, row)})


@pytest.mark.parametrize(
    ("changes", "column", "message"),
    [
        ({"name": None}, "姓名", "必填项,不能为空"),
        ({"name": "  "}, "姓名", "必填项,不能为空"),
        ({"name": "张" * 65}, "姓名", "长度不能超过 64 个字符(现为 65 个)"),
        ({"profession": "护理员"}, "职业", "“护理员”不是可选值,可选:医师、护士、麻醉医师、咨询师、技师"),
        ({"practising_since": "2019/13/01"}, "开始执业日期", "日期不存在:2019/13/01"),
        ({"practising_since": "去年"}, "开始执业日期", "日期格式应为 YYYY-MM-DD(例如 2026-03-01)"),
        ({"practising_since": 43000}, "开始执业日期", "日期格式应为 YYYY-MM-DD(例如 2026-03-01)"),
        ({"id_number": "430102198601010010"}, "身份证号", "身份证号无效(应为18位且出生日期与校验位正确)"),
        (
            {"id_number": 430102198601010010},
            "身份证号",
            "身份证号须以文本格式填写(数字格式会丢失末几位),请先把单元格设为文本再输入",
        ),
        ({"licence_no": "ab-12"}, "执业证书编码", "执业证书编码应为8–30位数字或大写字母"),
        (
            {"institution": "91430100MA4L0000XX"},
            "主执业机构统一社会信用代码",
            "统一社会信用代码无效(应为18位且校验位正确)",
        ),
    ],
)
def test_a_bad_cell_names_its_row_column_and_reason(clinic, world, changes, column, message):
    run = one_practitioner(world, clinic, **changes)
    assert run.status == "invalid"
    assert errors(run) == [("执业人员", 2, column, message)]
    assert run.errors[0]["cell"] == "ABCDEFGHI"[PRACTITIONERS.headers.index(column)] + "2"


def test_a_masked_id_number_cannot_be_imported(clinic, world):
    run = one_practitioner(world, clinic, id_number=mask_id_number(id_number()))
    assert errors(run) == [("执业人员", 2, "身份证号", "身份证号已脱敏(含 *),不能用于导入,请填写完整号码")]


def test_numbers_dates_and_choices_are_parsed_from_typed_cells(clinic, world):
    number = id_number()
    row = nurse_row(
        clinic.jia.credit_code,
        f" {number[:6]} {number[6:]} ",
        practising_since=dt.datetime(2019, 7, 1),
        title=None,
    )
    quals = qualification_row(
        number, "周护士", kind="护士培训学时", number=None, issuer=None, hours=180, year="2025"
    )
    run = dry(
        world.actor("wang"),
        "full",
        {
            "执业人员": sheet(PRACTITIONERS, row),
            "资质": sheet(QUALIFICATIONS, quals),
            "授权": [AUTHORIZATIONS.headers],
        },
    )
    assert run.errors == []
    assert run.totals()["create"] == 2


def test_every_error_of_every_row_is_reported_not_just_the_first(clinic, world):
    good = nurse_row(clinic.jia.credit_code, id_number())
    bad = nurse_row(clinic.jia.credit_code, "123", name=None, profession="厨师", practising_since="x")
    run = dry(world.actor("wang"), "practitioners", {"执业人员": sheet(PRACTITIONERS, good, bad, bad)})
    found = errors(run)
    for row in (3, 4):
        assert ("执业人员", row, "姓名", "必填项,不能为空") in found
        assert ("执业人员", row, "身份证号", "身份证号无效(应为18位且出生日期与校验位正确)") in found
        assert any(e[1] == row and e[2] == "职业" for e in found)
        assert any(e[1] == row and e[2] == "开始执业日期" for e in found)
    assert len(found) == 8
    assert run.counts["执业人员"] == {"create": 1, "update": 0, "unchanged": 0, "error": 2}
    assert [e[1] for e in found] == sorted(e[1] for e in found)  # file order


def test_model_rules_are_reported_on_their_columns(clinic, world):
    """A doctor needs a licence number, category and scope (registry ``Practitioner.clean``)."""
    row = doctor_row(
        clinic.jia.credit_code, id_number(), licence_no=None, practice_category=None, practice_scope=None
    )
    run = dry(world.actor("wang"), "practitioners", {"执业人员": sheet(PRACTITIONERS, row)})
    assert sorted(errors(run)) == sorted(
        [
            ("执业人员", 2, "执业证书编码", "医师和护士必须填写执业证书编码"),
            ("执业人员", 2, "执业类别", "医师须填写临床/口腔/中医/公共卫生执业类别"),
            ("执业人员", 2, "执业范围", "医师须填写执业范围"),
        ]
    )


def test_an_institution_the_actor_cannot_see_or_write_is_an_error_on_each_row(clinic, world):
    rows = [
        nurse_row(clinic.yi.credit_code, id_number()),  # sun's hospital: invisible to wang
        nurse_row(credit_code(), id_number()),  # valid code, no such institution
    ]
    run = dry(world.actor("wang"), "practitioners", {"执业人员": sheet(PRACTITIONERS, *rows)})
    assert errors(run) == [
        (
            "执业人员",
            2,
            "主执业机构统一社会信用代码",
            f"统一社会信用代码为 {clinic.yi.credit_code} 的机构不存在或无权访问",
        ),
        (
            "执业人员",
            3,
            "主执业机构统一社会信用代码",
            f"统一社会信用代码为 {rows[1]['institution']} 的机构不存在或无权访问",
        ),
    ]
    # a doctor sees 甲 but may not register staff there
    run = dry(
        world.actor("li"),
        "practitioners",
        {"执业人员": sheet(PRACTITIONERS, nurse_row(clinic.jia.credit_code, id_number()))},
    )
    assert errors(run) == [
        ("执业人员", 2, "主执业机构统一社会信用代码", "无权为机构“甲诊所”导入(需要该机构的管理角色)")
    ]


def test_a_person_registered_at_an_unseen_institution_is_not_revealed(clinic, world):
    # 孙医生 is 乙's; 甲 cannot see 乙's staff, so the row reads exactly like a new person's (ADR 0009).
    known = nurse_row(clinic.jia.credit_code, clinic.sun_doctor.id_number, name="孙医生")
    unknown = nurse_row(clinic.jia.credit_code, id_number(), name="孙医生")
    runs = [
        dry(world.actor("wang"), "practitioners", {"执业人员": sheet(PRACTITIONERS, r)})
        for r in (known, unknown)
    ]
    assert [errors(r) for r in runs] == [[], []]
    assert runs[0].totals() == runs[1].totals()
    assert runs[0].total("create") == 1


def test_duplicates_within_the_file_are_reported_on_the_later_row(clinic, world):
    number = id_number()
    row = nurse_row(clinic.jia.credit_code, number)
    run = dry(world.actor("wang"), "practitioners", {"执业人员": sheet(PRACTITIONERS, row, row)})
    assert errors(run) == [("执业人员", 3, "", "与第 2 行重复(身份证号相同),同一条记录只能出现一次")]


def test_qualification_references_are_checked(clinic, world):
    li = clinic.li
    rows = [
        qualification_row(id_number(), "无名氏"),  # nobody
        qualification_row(
            li.id_number,
            "李四",
            kind="继续医学教育学分",
            number=None,
            credits=5,
            credit_class="I类学分",
            year=2025,
        ),
        qualification_row(clinic.sun_doctor.id_number, "孙医生"),  # invisible to wang
        qualification_row(li.id_number, "李医生", kind="职称证书", number=None, issuer=None),  # model rules
        qualification_row(
            li.id_number,
            "李医生",
            kind="继续医学教育学分",
            number=None,
            credits="1.25",
            credit_class="I类学分",
            year=2024,
        ),
    ]
    run = dry(world.actor("wang"), "qualifications", {"资质": sheet(QUALIFICATIONS, *rows)})
    not_found = "身份证号对应的人员不存在或无权访问(可在本文件“执业人员”表中一并登记)"
    assert errors(run) == [
        ("资质", 2, "身份证号", not_found),
        ("资质", 3, "姓名", "姓名与身份证号对应的人员不一致(系统中为“李医生”)"),
        ("资质", 4, "身份证号", not_found),
        ("资质", 5, "证书编号", "必须填写证书编号"),
        ("资质", 5, "发证/备案机关", "必须填写发证机关"),
        ("资质", 6, "学分", "最多 1 位小数"),
    ]


def test_qualifications_can_only_be_written_by_managers_of_the_person(clinic, world):
    row = qualification_row(clinic.li.id_number, "李医生", kind="职称证书", number="ZC-1")
    run = dry(world.actor("qian"), "qualifications", {"资质": sheet(QUALIFICATIONS, row)})  # auditor sees 甲
    assert errors(run) == [("资质", 2, "身份证号", "无权修改该人员的资质(须为其主执业机构的管理人员)")]


def test_a_reference_to_a_bad_row_of_the_same_file_is_an_error_too(clinic, world):
    number = id_number()
    people = sheet(PRACTITIONERS, nurse_row(clinic.jia.credit_code, number, profession="厨师"))
    quals = sheet(QUALIFICATIONS, qualification_row(number, "周护士"))
    auths = sheet(AUTHORIZATIONS, authorization_row(clinic.jia.credit_code, number, "周护士"))
    run = dry(world.actor("wang"), "full", {"执业人员": people, "资质": quals, "授权": auths})
    assert [(e[0], e[1], e[2]) for e in errors(run)] == [
        ("执业人员", 2, "职业"),
        ("资质", 2, "身份证号"),
        ("授权", 2, "被授权人身份证号"),
    ]
    assert errors(run)[1][3] == "该人员在“执业人员”表第 2 行有错误,本行无法导入"


def test_authorization_rules_from_the_archive_are_reported(clinic, world):
    jia = clinic.jia.credit_code
    li = clinic.li
    rows = [
        authorization_row(
            jia,
            li.id_number,
            "李医生",
            kind="资质授权(项目)",
            product_brand=None,
            procedure_code="no-such-procedure",
        ),
        authorization_row(jia, li.id_number, "李医生", product_brand=None),
        authorization_row(
            jia, li.id_number, "李医生", product_brand="衡力", valid_from="2026-06-01", status="生效"
        ),
        authorization_row(jia, li.id_number, "李医生", status="暂停"),
        authorization_row(jia, clinic.sun_doctor.id_number, "孙医生"),
        authorization_row(jia, li.id_number, None, product_brand="瑞蓝", max_grade=5),
    ]
    run = dry(world.actor("wang"), "authorizations", {"授权": sheet(AUTHORIZATIONS, *rows)})
    assert errors(run) == [
        ("授权", 2, "项目编码", "规则包中没有项目编码 no-such-procedure"),
        ("授权", 3, "产品品牌", "产品授权须指定品牌"),
        ("授权", 4, "生效日期", f"与生效中的授权 #{clinic.auths['product'].pk} 范围相同且期限重叠"),
        ("授权", 5, "状态", "新增授权的状态只能是“草稿”或“生效”"),
        (
            "授权",
            6,
            "被授权人身份证号",
            "身份证号对应的人员不存在或无权访问(可在本文件“执业人员”表中一并登记)",
        ),
        ("授权", 7, "被授权人姓名", "填写身份证号时须填写姓名,用于核对"),
        ("授权", 7, "最高手术级别", "不能大于 4"),
    ]


def test_existing_authorizations_cannot_be_changed_by_import(clinic, world):
    product = clinic.auths["product"]
    row = authorization_row(
        clinic.jia.credit_code,
        clinic.li.id_number,
        "李医生",
        product_brand="衡力",
        valid_from="2020-01-01",
        valid_until="2031-12-31",
        grantor="甲诊所",
        status="暂停",
    )
    run = dry(world.actor("wang"), "authorizations", {"授权": sheet(AUTHORIZATIONS, row)})
    assert errors(run) == [
        (
            "授权",
            2,
            "截止日期",
            "已有授权不能通过导入修改(系统中为“2030-12-31”);如需变更,请在授权档案中撤销后新建或续期",
        ),
        ("授权", 2, "状态", "状态不能通过导入由“生效”改为“暂停”,请在授权档案中操作"),
    ]
    assert product.pk


def test_an_authorization_institution_needs_an_authorization_role(clinic, world):
    row = authorization_row(clinic.jia.credit_code, clinic.li.id_number, "李医生")
    run = dry(world.actor("li"), "authorizations", {"授权": sheet(AUTHORIZATIONS, row)})
    assert ("授权", 2, "授权机构统一社会信用代码", "无权为机构“甲诊所”导入(需要该机构的管理角色)") in errors(
        run
    )


def test_an_active_authorization_the_institution_cannot_offer_is_a_row_error(clinic, world):
    """甲 is a grade-2 outpatient department: a grade-3 procedure may be imported as a draft, not as active."""
    scope = {"kind": "资质授权(项目)", "product_brand": None, "procedure_code": "surg-full-face-neck-lift"}
    active = authorization_row(clinic.jia.credit_code, clinic.li.id_number, "李医生", status="生效", **scope)
    run = dry(world.actor("wang"), "authorizations", {"授权": sheet(AUTHORIZATIONS, active)})
    [(sheet_name, row, column, message)] = errors(run)
    assert (sheet_name, row, column) == ("授权", 2, "项目编码")
    assert "机构不能开展该授权范围内的项目" in message and "超出机构可开展的 2 级" in message
    draft = authorization_row(clinic.jia.credit_code, clinic.li.id_number, "李医生", **scope)
    run = dry(world.actor("wang"), "authorizations", {"授权": sheet(AUTHORIZATIONS, draft)})
    assert errors(run) == [] and run.counts["授权"]["create"] == 1
