"""All or nothing: one bad row among good ones writes nothing; an apply writes every row, audited."""

import datetime as dt

import pytest
from django.utils import timezone

from meiguard.audit.log import verify
from meiguard.audit.models import AuditEntry
from meiguard.authz.models import Authorization
from meiguard.authz.tests.conftest import SYSTEM, id_number
from meiguard.bulk import actions
from meiguard.bulk.models import ImportRun
from meiguard.bulk.specs import AUTHORIZATIONS, PRACTITIONERS, QUALIFICATIONS
from meiguard.bulk.tests.conftest import (
    authorization_row,
    doctor_row,
    nurse_row,
    qualification_row,
    sheet,
    xlsx,
)
from meiguard.core.errors import ActionError
from meiguard.notify.models import Notification
from meiguard.registry import actions as reg
from meiguard.registry.crypto import blind_index
from meiguard.registry.models import Practitioner, Qualification


def table_counts():
    return {
        "practitioners": Practitioner.objects.count(),
        "qualifications": Qualification.objects.count(),
        "authorizations": Authorization.objects.count(),
        "audit": AuditEntry.objects.count(),
    }


def full_file(
    clinic, *, bad: bool = False, nurse_number: str | None = None, doctor_number: str | None = None
):
    jia = clinic.jia.credit_code
    nurse_number = nurse_number or id_number()
    doctor_number = doctor_number or id_number()
    people = [
        nurse_row(jia, nurse_number),
        doctor_row(jia, doctor_number, profession="厨师" if bad else "医师"),
    ]
    quals = [
        qualification_row(nurse_number, "周护士"),
        qualification_row(
            nurse_number, "周护士", kind="护士培训学时", number=None, issuer=None, hours=180, year=2025
        ),
        qualification_row(doctor_number, "吴医生", kind="执业证书", number="ZS-001", issuer="湖南省卫健委"),
        qualification_row(
            clinic.li.id_number, "李医生", kind="职称证书", number="ZC-2020", issuer="湖南省人社厅"
        ),
    ]
    auths = [
        authorization_row(jia, doctor_number, "吴医生", status="生效"),
        authorization_row(
            jia, nurse_number, "周护士", kind="设备授权", product_brand=None, device_model="热玛吉-FLX"
        ),
        authorization_row(
            jia, clinic.li.id_number, "李医生", product_brand="乔雅登", supervisor=doctor_number
        ),
    ]
    return xlsx(
        {
            "执业人员": sheet(PRACTITIONERS, *people),
            "资质": sheet(QUALIFICATIONS, *quals),
            "授权": sheet(AUTHORIZATIONS, *auths),
        }
    )


def test_a_dry_run_writes_nothing_but_its_record(clinic, world, django_capture_on_commit_callbacks):
    before = table_counts()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run = actions.dry_run(
            world.actor("wang"), kind="full", file_name="ok.xlsx", content=full_file(clinic)
        )
    assert run.status == "valid", run.errors
    assert run.counts == {
        "执业人员": {"create": 2, "update": 0, "unchanged": 0, "error": 0},
        "资质": {"create": 4, "update": 0, "unchanged": 0, "error": 0},
        "授权": {"create": 3, "update": 0, "unchanged": 0, "error": 0},
    }
    assert table_counts() == before
    assert callbacks == []  # no cache bumps, e-mails or tasks escape the rolled-back transaction
    assert ImportRun.objects.count() == 1
    assert run.content  # kept (encrypted) so it can be applied


def test_one_bad_row_among_good_ones_writes_nothing(clinic, world, django_capture_on_commit_callbacks):
    before = table_counts()
    with django_capture_on_commit_callbacks(execute=True):
        run = actions.import_file(
            world.actor("wang"), kind="full", file_name="bad.xlsx", content=full_file(clinic, bad=True)
        )
    assert run.status == "failed"
    assert run.mode == "apply"
    assert [(e["sheet"], e["row"], e["column"]) for e in run.errors] == [
        ("执业人员", 3, "职业"),
        ("资质", 4, "身份证号"),
        ("授权", 2, "被授权人身份证号"),
        ("授权", 4, "指导主诊医师身份证号"),
    ]
    assert table_counts() == before  # not the good nurse, not her qualifications, no audit entries
    assert not AuditEntry.objects.filter(action="bulk.importrun.applied").exists()
    assert run.counts["执业人员"]["create"] == 1  # the good rows were fine, they just were not written


def test_apply_writes_every_row_through_the_actions_and_audits_it(
    clinic, world, django_capture_on_commit_callbacks
):
    wang = world.actor("wang")
    before = table_counts()
    nurse_number = id_number()
    with django_capture_on_commit_callbacks(execute=True):
        run = actions.import_file(
            wang, kind="full", file_name="ok.xlsx", content=full_file(clinic, nurse_number=nurse_number)
        )
    assert run.status == "applied", run.errors
    after = table_counts()
    assert after["practitioners"] == before["practitioners"] + 2
    assert after["qualifications"] == before["qualifications"] + 4
    assert after["authorizations"] == before["authorizations"] + 3
    nurse = Practitioner.objects.get(id_number_index=blind_index(nurse_number))
    assert (nurse.name, nurse.profession, nurse.title, nurse.practising_since) == (
        "周护士",
        "nurse",
        "nurse_practitioner",
        dt.date(2019, 7, 1),
    )
    assert nurse.main_institution == clinic.jia
    hours = nurse.qualifications.get(kind="nurse_training_hours")
    assert (hours.hours, hours.year) == (180, 2025)
    doctor_auth = Authorization.objects.get(practitioner__name="吴医生")
    assert (doctor_auth.status, doctor_auth.product_brand, doctor_auth.granted_by_id) == (
        "active",
        "乔雅登",
        world.users["wang"].pk,
    )
    li_auth = Authorization.objects.get(practitioner=clinic.li, product_brand="乔雅登")
    assert li_auth.status == "draft" and li_auth.supervisor.name == "吴医生"
    # the same audit entries as the pages write, plus one for the import itself
    actions_logged = list(AuditEntry.objects.order_by("pk").values_list("action", flat=True))[
        -(after["audit"] - before["audit"]) :
    ]
    assert actions_logged.count("registry.practitioner.created") == 2
    assert actions_logged.count("registry.qualification.created") == 4
    assert actions_logged.count("authz.authorization.created") == 3
    assert actions_logged.count("authz.authorization.activated") == 1
    assert actions_logged[-1] == "bulk.importrun.applied"
    entry = AuditEntry.objects.get(action="bulk.importrun.applied")
    assert entry.organization_id == world.org_jia.pk
    assert entry.actor_id == world.users["wang"].pk
    assert entry.changes["counts"]["create"] == 9
    assert entry.changes["sha256"] == run.sha256
    assert verify() == []
    assert list(run.institutions.all()) == [clinic.jia]


def test_apply_updates_changed_rows_and_leaves_the_rest(clinic, world, django_capture_on_commit_callbacks):
    wang = world.actor("wang")
    number = id_number()
    reg.create_practitioner(
        wang,
        main_institution_id=clinic.jia.pk,
        name="周护士",
        id_number=number,
        profession="nurse",
        licence_no="N2020123456",
        practice_category="nursing",
        practice_scope="护理",
        title="nurse",
        practising_since=dt.date(2019, 7, 1),
    )
    rows = [
        nurse_row(clinic.jia.credit_code, number),
        nurse_row(clinic.jia.credit_code, id_number(), name="新护士"),
    ]
    audit_before = AuditEntry.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        run = actions.import_file(
            wang,
            kind="practitioners",
            file_name="p.xlsx",
            content=xlsx({"执业人员": sheet(PRACTITIONERS, *rows)}),
        )
    assert run.counts["执业人员"] == {"create": 1, "update": 1, "unchanged": 0, "error": 0}
    assert run.changes[0] == {
        "sheet": "执业人员",
        "row": 2,
        "action": "update",
        "label": "周护士 · 护士",
        "columns": ["职称"],
    }
    assert Practitioner.objects.get(id_number_index=blind_index(number)).title == "nurse_practitioner"
    logged = list(
        AuditEntry.objects.filter(pk__gt=0).order_by("pk").values_list("action", "changes")[audit_before:]
    )
    assert [a for a, _ in logged] == [
        "registry.practitioner.updated",
        "registry.practitioner.created",
        "bulk.importrun.applied",
    ]
    assert logged[0][1] == {"title": ["nurse", "nurse_practitioner"]}
    # the same file again: everything unchanged, only the import itself is audited
    with django_capture_on_commit_callbacks(execute=True):
        again = actions.import_file(
            wang,
            kind="practitioners",
            file_name="p.xlsx",
            content=xlsx({"执业人员": sheet(PRACTITIONERS, *rows)}),
        )
    assert again.counts["执业人员"] == {"create": 0, "update": 0, "unchanged": 2, "error": 0}
    assert AuditEntry.objects.count() == audit_before + 4


def test_a_draft_authorization_can_be_activated_by_import(clinic, world, django_capture_on_commit_callbacks):
    wang = world.actor("wang")
    row = authorization_row(clinic.jia.credit_code, clinic.li.id_number, "李医生")
    content = xlsx({"授权": sheet(AUTHORIZATIONS, row)})
    with django_capture_on_commit_callbacks(execute=True):
        actions.import_file(wang, kind="authorizations", file_name="a.xlsx", content=content)
    auth = Authorization.objects.get(product_brand="乔雅登")
    assert auth.status == "draft"
    row["status"] = "生效"
    with django_capture_on_commit_callbacks(execute=True):
        run = actions.import_file(
            wang,
            kind="authorizations",
            file_name="a.xlsx",
            content=xlsx({"授权": sheet(AUTHORIZATIONS, row)}),
        )
    assert run.counts["授权"]["update"] == 1
    auth.refresh_from_db()
    assert auth.status == "active"


def test_a_stored_dry_run_is_applied_once_by_its_uploader(clinic, world, django_capture_on_commit_callbacks):
    wang = world.actor("wang")
    dry = actions.dry_run(wang, kind="full", file_name="ok.xlsx", content=full_file(clinic))
    with pytest.raises(Exception) as other:
        actions.apply(world.actor("zhao"), dry.pk)  # a colleague cannot apply wang's upload
    assert other.typename == "Http404"
    with django_capture_on_commit_callbacks(execute=True):
        applied = actions.apply(wang, dry.pk)
    assert applied.status == "applied" and applied.source_id == dry.pk
    dry.refresh_from_db()
    assert dry.applied_at is not None and dry.content == ""  # the stored file is dropped once used
    with pytest.raises(ActionError) as twice:
        actions.apply(wang, dry.pk)
    assert twice.value.code == "ALREADY_APPLIED"


def test_a_dry_run_with_errors_or_too_old_cannot_be_applied(clinic, world):
    wang = world.actor("wang")
    bad = actions.dry_run(wang, kind="full", file_name="bad.xlsx", content=full_file(clinic, bad=True))
    assert bad.content == ""
    with pytest.raises(ActionError) as invalid:
        actions.apply(wang, bad.pk)
    assert invalid.value.code == "RUN_INVALID"
    old = actions.dry_run(wang, kind="full", file_name="ok.xlsx", content=full_file(clinic))
    ImportRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(hours=25))
    with pytest.raises(ActionError) as expired:
        actions.apply(wang, old.pk)
    assert expired.value.code == "RUN_EXPIRED"
    actions.dry_run(wang, kind="full", file_name="ok.xlsx", content=full_file(clinic))
    old.refresh_from_db()
    assert old.content == ""  # purged once it can no longer be applied


def test_apply_checks_again_and_writes_nothing_if_the_data_changed(
    clinic, world, django_capture_on_commit_callbacks
):
    wang = world.actor("wang")
    nurse_number = id_number()
    dry = actions.dry_run(
        wang, kind="full", file_name="ok.xlsx", content=full_file(clinic, nurse_number=nurse_number)
    )
    assert dry.status == "valid"
    # meanwhile 乙 registers the same person, and 甲 accepts them as a visiting practitioner (so 甲 sees them)
    zhou = reg.create_practitioner(
        world.actor("sun"),
        main_institution_id=clinic.yi.pk,
        name="周护士",
        id_number=nurse_number,
        profession="nurse",
        licence_no="N2020123456",
    )
    reg.create_practitioner_site(
        SYSTEM, institution_id=clinic.jia.pk, practitioner_id=zhou.pk, valid_from=dt.date(2026, 1, 1)
    )
    before = table_counts()
    with django_capture_on_commit_callbacks(execute=True):
        run = actions.apply(wang, dry.pk)
    assert run.status == "failed"
    assert ("执业人员", 2, "身份证号") in [(e["sheet"], e["row"], e["column"]) for e in run.errors]
    assert table_counts() == before
    dry.refresh_from_db()
    assert dry.applied_at is None


def test_the_institutions_managers_are_notified_once(clinic, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = actions.import_file(
            world.actor("wang"), kind="full", file_name="ok.xlsx", content=full_file(clinic)
        )
    notes = Notification.objects.filter(kind="import")
    assert [n.recipient.username for n in notes] == ["zhao"]  # the compliance officer, not wang himself
    assert notes[0].url == f"/bulk/runs/{run.pk}/"
    assert "新增 9 行" in notes[0].body
