"""Drafts and evidence: who may apply for whom, server-side validation, edits, evidence, withdrawal."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from meiguard.audit.models import AuditEntry
from meiguard.authz.tests.conftest import make_doctor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.workflow import actions, preview
from meiguard.workflow.models import Application, Evidence

from .conftest import END, HIGH, LOW, MEDIUM, START, pdf


def _codes(app: Application) -> list[str]:
    return list(
        AuditEntry.objects.filter(object_type="workflow.application", object_id=str(app.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )


def test_a_doctor_applies_for_themselves(wf):
    app = wf.draft("li")
    assert (app.status, app.on_behalf, app.applicant_id) == ("draft", False, wf.users["li"].pk)
    assert app.risk_level == "low" and app.risk_reasons[0]["code"] == "PROCEDURE_LOW_RISK"
    assert _codes(app) == ["workflow.application.created"]
    entry = AuditEntry.objects.get(object_type="workflow.application", object_id=str(app.pk))
    assert entry.actor_label == "li" and entry.changes["procedure_code"] == [None, LOW]


def test_an_admin_applies_on_behalf(wf):
    app = wf.draft("wang")
    assert app.on_behalf is True and app.practitioner_id == wf.li.pk


def test_a_nurse_cannot_apply_for_someone_else(wf):
    with pytest.raises(ActionError) as exc:
        wf.draft("zhang")
    assert (exc.value.code, exc.value.status, exc.value.field) == ("ONLY_SELF", 403, "practitioner_id")


def test_a_doctor_cannot_apply_for_the_institution(wf):
    with pytest.raises(ActionError) as exc:
        wf.draft(
            "li",
            kind="technology",
            practitioner_id=None,
            procedure_code="",
            technology_name="X",
            technology_kind="new",
        )
    assert exc.value.code == "ONLY_SELF"


def test_outsider_and_auditor_cannot_apply_at_jia(wf):
    with pytest.raises(NotFoundField) as nf:
        wf.draft("sun")
    assert nf.value.field == "institution_id"
    with pytest.raises(ActionError) as exc:
        wf.draft("qian")  # the association sees 甲 but may not file there
    assert (exc.value.code, exc.value.status) == ("FORBIDDEN", 403)
    assert Application.objects.count() == 0


def test_a_foreign_practitioner_is_not_found(wf):
    with pytest.raises(NotFoundField) as nf:
        wf.draft("wang", practitioner_id=wf.sun_doctor.pk)
    assert nf.value.field == "practitioner_id"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"procedure_code": ""}, "procedure_code"),
        ({"procedure_code": "no-such-procedure"}, "procedure_code"),
        ({"subject": "cosmetic_dermatology"}, "procedure_code"),  # code and subject together
        ({"valid_until": START.replace(year=2025)}, "valid_until"),
        ({"procedure_code": "", "procedure_category": "不存在的类别"}, "procedure_category"),
        (
            {
                "procedure_code": "",
                "subject": "cosmetic_surgery",
                "procedure_category": "面部除皱",
                "max_grade": 1,
            },
            "max_grade",
        ),
        ({"kind": "product", "procedure_code": ""}, "product_brand"),
        ({"kind": "technology", "procedure_code": "", "technology_name": "X"}, "technology_kind"),
        ({"subject": "beauty", "procedure_code": ""}, "subject"),
        ({"colour": "red"}, "colour"),
        ({"scope_note": "长" * 2001}, "scope_note"),
    ],
)
def test_it_validates_the_requested_scope(wf, data, field):
    with pytest.raises(FieldErrors) as exc:
        wf.draft("li", **data)
    assert field in exc.value.errors, exc.value.errors
    assert exc.value.status == 422
    assert Application.objects.count() == 0


def test_the_supervisor_must_be_visible_and_not_the_applicant(wf):
    with pytest.raises(NotFoundField):
        wf.draft("li", supervisor_id=wf.sun_doctor.pk)
    with pytest.raises(FieldErrors) as exc:
        wf.draft("li", supervisor_id=wf.li.pk)
    assert "supervisor_id" in exc.value.errors


def test_update_recomputes_risk_and_is_audited(wf):
    app = wf.draft("li")
    app = actions.update_application(wf.actor("li"), app.pk, data={"procedure_code": MEDIUM})
    assert app.risk_level == "medium"
    app = actions.update_application(wf.actor("li"), app.pk, data={"procedure_code": HIGH})
    assert app.risk_level == "high"
    assert _codes(app) == [
        "workflow.application.created",
        "workflow.application.updated",
        "workflow.application.updated",
    ]
    actions.update_application(wf.actor("li"), app.pk, data={"procedure_code": HIGH})  # unchanged: no entry
    assert len(_codes(app)) == 3


def test_only_the_applicant_edits_and_only_while_editable(wf):
    app = wf.draft("li")
    with pytest.raises(ActionError) as exc:
        actions.update_application(wf.actor("wang"), app.pk, data={"justification": "x"})
    assert (exc.value.code, exc.value.status) == ("NOT_APPLICANT", 403)
    with pytest.raises(NotFoundField):
        actions.update_application(wf.actor("sun"), app.pk, data={"justification": "x"})
    actions.submit(wf.actor("li"), app.pk)
    with pytest.raises(ActionError) as exc:
        actions.update_application(wf.actor("li"), app.pk, data={"justification": "x"})
    assert (exc.value.code, exc.value.status) == ("INVALID_STATE", 409)
    assert "审批中" in str(exc.value.message)


def test_evidence_is_added_validated_and_removed(wf):
    app = wf.draft("li")
    cert = actions.add_evidence(
        wf.actor("li"), app.pk, kind="certificate", file=pdf("执业证书.pdf"), note="原件扫描"
    )
    assert cert.file.name.startswith("evidence/applications/") and cert.original_name == "执业证书.pdf"
    licence = wf.li.qualifications.get(kind="practice_licence")
    linked = actions.add_evidence(wf.actor("li"), app.pk, kind="case_log", qualification_id=licence.pk)
    assert linked.qualification_id == licence.pk and not linked.file
    assert preview.build(wf.actor("li"), app).missing_evidence == ()

    with pytest.raises(FieldErrors) as exc:
        actions.add_evidence(
            wf.actor("li"), app.pk, kind="certificate", file=SimpleUploadedFile("x.exe", b"MZ")
        )
    assert "file" in exc.value.errors
    with pytest.raises(FieldErrors) as exc:
        actions.add_evidence(wf.actor("li"), app.pk, kind="certificate")
    assert "file" in exc.value.errors
    with pytest.raises(FieldErrors) as exc:
        actions.add_evidence(wf.actor("li"), app.pk, kind="diploma", file=pdf())
    assert "kind" in exc.value.errors
    other = make_doctor(wf.jia, "王医生")
    with pytest.raises(FieldErrors) as exc:
        actions.add_evidence(
            wf.actor("li"), app.pk, kind="certificate", qualification_id=other.qualifications.first().pk
        )
    assert "qualification_id" in exc.value.errors
    with pytest.raises(ActionError) as denied:
        actions.add_evidence(wf.actor("wang"), app.pk, kind="certificate", file=pdf())
    assert denied.value.status == 403

    actions.remove_evidence(wf.actor("li"), app.pk, linked.pk)
    linked.refresh_from_db()
    assert linked.removed_at is not None  # kept for the record, no longer counted
    assert preview.build(wf.actor("li"), app).missing_evidence == ("case_log",)
    with pytest.raises(NotFoundField):
        actions.remove_evidence(wf.actor("li"), app.pk, linked.pk)
    actions_seen = set(
        AuditEntry.objects.filter(object_type="workflow.evidence").values_list("action", flat=True)
    )
    assert actions_seen == {"workflow.evidence.added", "workflow.evidence.deleted"}
    assert Evidence.objects.filter(application=app).count() == 2


def test_withdrawal(wf):
    mine = wf.draft("li")
    actions.withdraw(wf.actor("li"), mine.pk)
    mine.refresh_from_db()
    assert mine.status == "withdrawn"
    with pytest.raises(ActionError) as exc:
        actions.withdraw(wf.actor("li"), mine.pk)
    assert (exc.value.code, exc.value.status) == ("INVALID_STATE", 409)

    theirs = wf.submitted("wang")
    with pytest.raises(ActionError) as exc:
        actions.withdraw(wf.actor("li"), theirs.pk)  # the practitioner is not the applicant
    assert exc.value.status == 403
    with pytest.raises(FieldErrors):
        actions.withdraw(wf.actor("zhao"), theirs.pk)  # someone else's: a reason is required
    actions.withdraw(wf.actor("zhao"), theirs.pk, reason="重复申请")
    theirs.refresh_from_db()
    assert (theirs.status, theirs.status_reason) == ("withdrawn", "重复申请")
    assert not theirs.steps.filter(status="open").exists()
    assert theirs.valid_until == END
