"""Export → import reproduces the data: unchanged in the same database, field by field into an empty one,
and (property) export → import → export gives identical rows. Plus what an export holds and hides."""

import datetime as dt
from decimal import Decimal

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meiguard.authz import actions as authz_actions
from meiguard.authz import snapshot
from meiguard.authz.models import Authorization
from meiguard.authz.tests.conftest import FAR, PAST, SYSTEM, id_number
from meiguard.bulk import actions, exporters
from meiguard.bulk.specs import PRACTITIONERS, QUALIFICATIONS, SHEETS
from meiguard.bulk.tests.conftest import read_rows, sheet, xlsx
from meiguard.registry import actions as reg
from meiguard.registry.crypto import mask_id_number
from meiguard.registry.models import Practitioner, Qualification

PRACTITIONER_FIELDS = (
    "main_institution_id",
    "name",
    "id_number",
    "profession",
    "licence_no",
    "practice_category",
    "practice_scope",
    "title",
    "practising_since",
)
QUALIFICATION_FIELDS = (
    "kind",
    "subject",
    "filing_date",
    "qualifying_years",
    "issuer",
    "number",
    "product_reference",
    "valid_from",
    "valid_until",
    "hours",
    "credits",
    "credit_class",
    "year",
)
AUTHORIZATION_FIELDS = (
    "kind",
    "institution_id",
    "grantor",
    "procedure_code",
    "procedure_category",
    "subject",
    "product_brand",
    "device_model",
    "technology_name",
    "technology_kind",
    "scope_note",
    "valid_from",
    "valid_until",
    "max_grade",
    "conditions_note",
    "status",
)


def registry_state(institution):
    """Everything of the institution, keyed by natural keys (no database ids), for comparison."""
    people = {
        p.id_number: tuple(getattr(p, f) for f in PRACTITIONER_FIELDS)
        for p in Practitioner.objects.filter(main_institution=institution)
    }
    quals = sorted(
        (q.practitioner.id_number, *(str(getattr(q, f)) for f in QUALIFICATION_FIELDS))
        for q in Qualification.objects.filter(practitioner__main_institution=institution).select_related(
            "practitioner"
        )
    )
    auths = sorted(
        (
            a.practitioner.id_number if a.practitioner else "",
            a.supervisor.id_number if a.supervisor else "",
            *(str(getattr(a, f)) for f in AUTHORIZATION_FIELDS),
        )
        for a in Authorization.objects.filter(institution=institution).select_related(
            "practitioner", "supervisor"
        )
    )
    return people, quals, auths


def add_varied_data(clinic):
    """Practitioners with every kind of credential and authorizations of every kind, through the actions."""
    jia = clinic.jia
    nurse = reg.create_practitioner(
        SYSTEM,
        main_institution_id=jia.pk,
        name="周护士",
        id_number=id_number(),
        profession="nurse",
        licence_no="N2020123456",
        practice_category="nursing",
        practice_scope="护理",
        title="supervisor_nurse",
        practising_since=dt.date(2010, 3, 1),
    )
    doctor = reg.create_practitioner(
        SYSTEM,
        main_institution_id=jia.pk,
        name="吴医生",
        id_number=id_number(),
        profession="doctor",
        licence_no="110430000999999",
        practice_category="clinical",
        practice_scope="外科",
        title="associate_chief",
        practising_since=dt.date(2008, 9, 1),
    )
    reg.create_practitioner(
        SYSTEM, main_institution_id=jia.pk, name="郑咨询", id_number=id_number(), profession="consultant"
    )
    for pid, fields in [
        (
            nurse.pk,
            {
                "kind": "nurse_registration",
                "number": "HS-1",
                "issuer": "卫健委",
                "valid_from": PAST,
                "valid_until": FAR,
            },
        ),
        (nurse.pk, {"kind": "nurse_training_hours", "hours": Decimal("180.5"), "year": 2025}),
        (
            doctor.pk,
            {"kind": "cme_credits", "credits": Decimal("12.5"), "credit_class": "class_ii", "year": 2025},
        ),
        (
            doctor.pk,
            {
                "kind": "chief_physician_filing",
                "subject": "cosmetic_surgery",
                "filing_date": dt.date(2016, 5, 1),
                "qualifying_years": 9,
                "issuer": "卫健委",
            },
        ),
        (
            doctor.pk,
            {
                "kind": "training_certificate",
                "number": "T-9",
                "issuer": "厂家",
                "product_reference": "乔雅登",
            },
        ),
    ]:
        reg.create_qualification(SYSTEM, practitioner_id=pid, **fields)
    for data, activate in [
        (
            {
                "kind": "qualification",
                "practitioner_id": doctor.pk,
                "subject": "cosmetic_surgery",
                "max_grade": 2,
                "valid_from": PAST,
            },
            True,
        ),
        (
            {
                "kind": "qualification",
                "practitioner_id": nurse.pk,
                "procedure_category": "注射",
                "supervisor_id": doctor.pk,
                "valid_from": PAST,
                "valid_until": FAR,
                "conditions_note": "须在主诊医师指导下",
            },
            False,
        ),
        (
            {
                "kind": "device",
                "practitioner_id": nurse.pk,
                "device_model": "热玛吉-FLX",
                "valid_from": PAST,
                "scope_note": "面部",
            },
            True,
        ),
        (
            {
                "kind": "technology",
                "practitioner_id": doctor.pk,
                "technology_name": "线雕提升",
                "technology_kind": "transfer",
                "grantor": "某整形医院",
                "valid_from": PAST,
            },
            False,
        ),
    ]:
        authz_actions.create_authorization(SYSTEM, institution_id=jia.pk, data=data, activate=activate)


def test_export_then_import_into_the_same_database_changes_nothing(clinic, world):
    add_varied_data(clinic)
    wang = world.actor("wang")
    content = exporters.export(wang, "full")
    run = actions.dry_run(wang, kind="full", file_name="export.xlsx", content=content)
    assert run.errors == []
    assert run.counts == {
        "执业人员": {"create": 0, "update": 0, "unchanged": 4, "error": 0},
        "资质": {"create": 0, "update": 0, "unchanged": 9, "error": 0},
        "授权": {"create": 0, "update": 0, "unchanged": 7, "error": 0},
    }


def test_export_imported_into_an_empty_registry_reproduces_every_field(clinic, world):
    wang = world.actor("wang")
    point = transaction.savepoint()
    add_varied_data(clinic)
    expected = registry_state(clinic.jia)
    content = exporters.export(wang, "full", institution_id=clinic.jia.pk)
    transaction.savepoint_rollback(point)  # the new people, credentials and authorizations are gone
    snapshot.clear()
    assert registry_state(clinic.jia) != expected
    run = actions.import_file(wang, kind="full", file_name="export.xlsx", content=content)
    assert run.status == "applied", run.errors
    assert run.totals()["create"] == 3 + 5 + 4
    assert registry_state(clinic.jia) == expected
    assert read_rows(exporters.export(wang, "full", institution_id=clinic.jia.pk)) == read_rows(content)


names = st.sampled_from(["赵一", "钱二", "孙三", "李四", "周五", "吴六", "郑七", "王八", "冯九", "陈十"])
days = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2025, 12, 31))


@st.composite
def person(draw):
    profession = draw(st.sampled_from(["nurse", "consultant", "technician", "doctor"]))
    row = {
        "name": draw(names),
        "profession": {"nurse": "护士", "consultant": "咨询师", "technician": "技师", "doctor": "医师"}[
            profession
        ],
        "practising_since": draw(st.none() | days),
        "licence_no": draw(st.none() | st.from_regex(r"[0-9A-Z]{8,12}", fullmatch=True)),
        "title": draw(st.sampled_from([None, "无"])),
    }
    if profession in ("nurse", "doctor") and not row["licence_no"]:
        row["licence_no"] = "LIC12345678"
    if profession == "nurse":
        row["practice_category"] = draw(st.sampled_from([None, "护理"]))
        row["title"] = draw(st.sampled_from([None, "护士", "护师", "主管护师"]))
    if profession == "doctor":
        row["practice_category"] = draw(st.sampled_from(["临床", "口腔", "中医"]))
        row["practice_scope"] = draw(st.sampled_from(["外科", "皮肤病与性病", "口腔颌面外科"]))
        row["title"] = draw(st.sampled_from(["住院医师/医士", "主治医师", "主任医师"]))
    credits = draw(
        st.lists(
            st.tuples(
                st.integers(2015, 2026),
                st.sampled_from(["I类学分", "II类学分"]),
                st.decimals("0", "99.9", places=1),
            ),
            max_size=3,
            unique_by=lambda t: (t[0], t[1]),
        )
    )
    trainings = draw(
        st.lists(
            st.tuples(
                st.from_regex(r"T-[0-9]{1,4}", fullmatch=True),
                st.sampled_from(["衡力", "乔雅登", "热玛吉-FLX"]),
                days,
            ),
            max_size=2,
            unique_by=lambda t: t[0],
        )
    )
    return row, credits, trainings


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=st.lists(person(), min_size=1, max_size=4))
def test_export_import_export_gives_identical_rows(clinic, world, people):
    wang = world.actor("wang")
    point = transaction.savepoint()
    try:
        person_rows, qual_rows = [], []
        for row, credits, trainings in people:
            number = id_number()
            person_rows.append({"institution": clinic.jia.credit_code, "id_number": number, **row})
            for year, credit_class, amount in credits:
                qual_rows.append(
                    {
                        "practitioner": number,
                        "practitioner_name": row["name"],
                        "kind": "继续医学教育学分",
                        "year": year,
                        "credit_class": credit_class,
                        "credits": amount,
                    }
                )
            for certificate, brand, start in trainings:
                qual_rows.append(
                    {
                        "practitioner": number,
                        "practitioner_name": row["name"],
                        "kind": "培训证书(产品/设备培训)",
                        "number": certificate,
                        "issuer": "厂家",
                        "product_reference": brand,
                        "valid_from": start,
                    }
                )
        upload = xlsx(
            {"执业人员": sheet(PRACTITIONERS, *person_rows), "资质": sheet(QUALIFICATIONS, *qual_rows)}
        )
        first = actions.import_file(wang, kind="full", file_name="gen.xlsx", content=xlsx_full(upload))
        assert first.status == "applied", first.errors
        assert first.totals()["create"] == len(person_rows) + len(qual_rows)

        exported = exporters.export(wang, "full", institution_id=clinic.jia.pk)
        again = actions.import_file(wang, kind="full", file_name="export.xlsx", content=exported)
        assert again.status == "applied"
        assert again.totals() == {
            "create": 0,
            "update": 0,
            "unchanged": again.totals()["unchanged"],
            "error": 0,
        }
        assert read_rows(exporters.export(wang, "full", institution_id=clinic.jia.pk)) == read_rows(exported)

        # every generated row is in the export, as the importer reads it
        rows = exporters.export_rows(wang, "full", institution_id=clinic.jia.pk)
        for generated in person_rows:
            parsed = {c.key: c.parse(generated.get(c.key)) for c in PRACTITIONERS.columns}
            assert parsed in rows["practitioners"]
        for generated in qual_rows:
            parsed = {c.key: c.parse(generated.get(c.key)) for c in QUALIFICATIONS.columns}
            assert parsed in rows["qualifications"]
    finally:
        transaction.savepoint_rollback(point)
        snapshot.clear()


def xlsx_full(upload: bytes) -> bytes:
    """Add the (empty) 授权 sheet a ``full`` workbook needs."""
    sheets = read_rows(upload)
    sheets["授权"] = [SHEETS["authorizations"].headers]
    return xlsx(sheets)


def test_id_numbers_are_exported_in_full_only_to_people_who_manage_the_person(clinic, world):
    li_number = clinic.li.id_number
    wang = exporters.export_rows(world.actor("wang"), "full")
    assert [r["id_number"] for r in wang["practitioners"]] == [li_number]
    assert {r["practitioner"] for r in wang["authorizations"]} == {li_number}
    masked = mask_id_number(li_number)
    for reader in ("li", "zhang", "qian"):  # doctor, nurse, association auditor: read-only
        rows = exporters.export_rows(world.actor(reader), "full")
        assert [r["id_number"] for r in rows["practitioners"]] == [masked]
        assert {r["practitioner"] for r in rows["qualifications"]} == {masked}
    # and a masked file cannot be imported back
    auditor_file = exporters.export(world.actor("qian"), "practitioners")
    run = actions.dry_run(world.actor("wang"), kind="practitioners", file_name="q.xlsx", content=auditor_file)
    assert [e["message"] for e in run.errors] == ["身份证号已脱敏(含 *),不能用于导入,请填写完整号码"]


def test_a_host_institution_sees_visiting_practitioners_ids_in_its_authorizations(clinic, world):
    reg.create_practitioner_site(
        SYSTEM, institution_id=clinic.jia.pk, practitioner_id=clinic.sun_doctor.pk, valid_from=PAST
    )
    authz_actions.create_authorization(
        SYSTEM,
        institution_id=clinic.jia.pk,
        data={
            "kind": "product",
            "practitioner_id": clinic.sun_doctor.pk,
            "product_brand": "衡力",
            "valid_from": PAST,
        },
    )
    wang = world.actor("wang")
    rows = exporters.export_rows(wang, "full")
    assert clinic.sun_doctor.id_number in {r["practitioner"] for r in rows["authorizations"]}
    # the visitor is exported by their own institution only
    assert [r["name"] for r in rows["practitioners"]] == ["李医生"]
    run = actions.dry_run(wang, kind="full", file_name="x.xlsx", content=exporters.export(wang, "full"))
    assert run.errors == [] and run.totals()["unchanged"] == 1 + 4 + 4


def test_an_export_holds_only_what_the_actor_can_see(clinic, world):
    sun = exporters.export_rows(world.actor("sun"), "full")
    assert [r["name"] for r in sun["practitioners"]] == ["孙医生"]
    assert sun["authorizations"] == []
    assert {r["institution"] for r in sun["practitioners"]} == {clinic.yi.credit_code}
    qian = exporters.export_rows(world.actor("qian"), "authorizations")  # overseen 甲
    assert len(qian["authorizations"]) == 3
    only_jia = exporters.export_rows(world.actor("wang"), "practitioners", institution_id=clinic.yi.pk)
    assert only_jia == {"practitioners": []}  # 乙 is not visible to wang
