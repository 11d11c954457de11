"""The authorization archive: lifecycle, overlap refusal, validation, access, audit."""

import datetime as dt

import pytest

from meiguard.audit.models import AuditEntry
from meiguard.authz import actions
from meiguard.authz.models import Authorization
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError, FieldErrors

from .conftest import FAR, PAST, SYSTEM


def _new(clinic, actor_name="zhao", **data):
    payload = {
        "kind": "qualification",
        "practitioner_id": clinic.li.pk,
        "procedure_code": "derm-filler-injection",
        "valid_from": dt.date(2026, 1, 1),
        "valid_until": dt.date(2026, 12, 31),
    }
    payload.update(data)
    return actions.create_authorization(
        clinic.world.actor(actor_name), institution_id=clinic.jia.pk, data=payload
    )


def test_lifecycle_draft_active_suspended_active_revoked_is_audited(clinic):
    zhao = clinic.world.actor("zhao")
    auth = _new(clinic)
    assert auth.status == "draft"
    actions.change_status(zhao, auth.pk, action="activate")
    actions.change_status(zhao, auth.pk, action="suspend", reason="投诉核查")
    actions.change_status(zhao, auth.pk, action="reinstate", reason="核查无误")
    auth = actions.change_status(zhao, auth.pk, action="revoke", reason="离职")
    assert auth.status == "revoked"
    codes = list(
        AuditEntry.objects.filter(object_type="authz.authorization", object_id=str(auth.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert codes == [
        "authz.authorization.created",
        "authz.authorization.activated",
        "authz.authorization.suspended",
        "authz.authorization.reinstated",
        "authz.authorization.revoked",
    ]
    suspended = AuditEntry.objects.get(object_id=str(auth.pk), action="authz.authorization.suspended")
    assert suspended.reason == "投诉核查"
    assert suspended.changes["status"] == ["active", "suspended"]
    assert suspended.actor_label == "zhao"


@pytest.mark.parametrize("action", ["suspend", "revoke", "reinstate"])
def test_it_requires_a_reason_for_suspend_reinstate_revoke(clinic, action):
    with pytest.raises(FieldErrors) as exc:
        actions.change_status(
            clinic.world.actor("zhao"), clinic.auths["procedure"].pk, action=action, reason="  "
        )
    assert "reason" in exc.value.errors


def test_it_refuses_invalid_transitions(clinic):
    auth = _new(clinic)
    with pytest.raises(ActionError) as exc:
        actions.change_status(clinic.world.actor("zhao"), auth.pk, action="suspend", reason="x")
    assert exc.value.code == "INVALID_TRANSITION"
    assert exc.value.status == 409


def test_it_refuses_an_overlapping_active_authorization(clinic):
    with pytest.raises(ActionError) as exc:
        _new(clinic, procedure_code="derm-botulinum-toxin-injection")
    assert exc.value.code == "AUTHORIZATION_OVERLAP"
    assert str(clinic.auths["procedure"].pk) in str(exc.value.message)
    assert Authorization.objects.count() == 3


def test_a_later_non_overlapping_term_is_accepted_and_duplicates_refused_on_activation(clinic):
    zhao = clinic.world.actor("zhao")
    first = _new(clinic, valid_from=dt.date(2026, 1, 1), valid_until=dt.date(2026, 6, 30))
    second = _new(
        clinic, valid_from=dt.date(2026, 6, 15), valid_until=dt.date(2026, 12, 31)
    )  # both drafts: fine
    actions.change_status(zhao, first.pk, action="activate")
    with pytest.raises(ActionError) as exc:
        actions.change_status(zhao, second.pk, action="activate")
    assert exc.value.code == "AUTHORIZATION_OVERLAP"
    third = _new(clinic, valid_from=dt.date(2026, 7, 1), valid_until=dt.date(2026, 12, 31))
    assert actions.change_status(zhao, third.pk, action="activate").status == "active"


def test_renewal_is_a_draft_starting_the_day_after(clinic):
    zhao = clinic.world.actor("zhao")
    auth = _new(clinic, valid_until=dt.date(2026, 6, 30))
    actions.change_status(zhao, auth.pk, action="activate")
    new = actions.renew_authorization(zhao, auth.pk, valid_until=dt.date(2027, 6, 30))
    assert (new.status, new.valid_from, new.renews_id) == ("draft", dt.date(2026, 7, 1), auth.pk)
    assert actions.change_status(zhao, new.pk, action="activate").status == "active"
    with pytest.raises(FieldErrors):
        actions.renew_authorization(zhao, auth.pk, valid_until=dt.date(2026, 5, 1))


def test_expiry_job_expires_and_is_idempotent(clinic):
    auth = _new(clinic, valid_until=dt.date(2026, 2, 1))
    actions.change_status(clinic.world.actor("zhao"), auth.pk, action="activate")
    assert actions.expire_due(SYSTEM, on=dt.date(2026, 3, 3)) == [auth.pk]
    assert actions.expire_due(SYSTEM, on=dt.date(2026, 3, 3)) == []
    auth.refresh_from_db()
    assert auth.status == "expired"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"procedure_code": ""}, "procedure_code"),
        ({"procedure_code": "no-such-item"}, "procedure_code"),
        ({"procedure_category": "注射"}, "procedure_code"),
        ({"valid_until": dt.date(2025, 1, 1)}, "valid_until"),
        ({"max_grade": 7}, "max_grade"),
        ({"kind": "product", "procedure_code": "", "product_brand": ""}, "product_brand"),
        ({"kind": "device", "procedure_code": "", "device_model": ""}, "device_model"),
        (
            {"kind": "technology", "procedure_code": "", "technology_name": "", "technology_kind": "new"},
            "technology_name",
        ),
        ({"color": "red"}, "color"),
    ],
)
def test_it_validates_every_field_and_writes_nothing(clinic, data, field):
    before = Authorization.objects.count()
    with pytest.raises(FieldErrors) as exc:
        _new(clinic, **data)
    assert field in exc.value.errors
    assert Authorization.objects.count() == before


def test_practitioner_must_be_registered_at_the_institution(clinic):
    from meiguard.authz.tests.conftest import make_doctor

    # A doctor of 乙 is invisible to 甲's officer: 404, not a validation hint.
    with pytest.raises(NotFoundField) as exc:
        _new(clinic, practitioner_id=clinic.sun_doctor.pk)
    assert exc.value.field == "practitioner_id"
    # The platform sees both, and is told the doctor is not registered at 甲.
    other = make_doctor(clinic.yi, "王医生")
    with pytest.raises(FieldErrors) as exc2:
        actions.create_authorization(
            SYSTEM,
            institution_id=clinic.jia.pk,
            data={
                "kind": "qualification",
                "practitioner_id": other.pk,
                "procedure_code": "derm-filler-injection",
                "valid_from": PAST,
                "valid_until": FAR,
            },
        )
    assert "practitioner_id" in exc2.value.errors


def test_technology_authorization_between_institutions(clinic):
    tech = actions.create_authorization(
        SYSTEM,
        institution_id=clinic.jia.pk,
        data={
            "kind": "technology",
            "grantee_institution_id": clinic.yi.pk,
            "grantor": "甲诊所",
            "technology_name": "微创眼袋技术",
            "technology_kind": "transfer",
            "scope_note": "仅限下睑袋",
            "valid_from": PAST,
            "valid_until": FAR,
        },
        activate=True,
    )
    assert tech.status == "active"
    # The grantee can read it; it is 甲's to change.
    assert Authorization.objects.visible_to(clinic.world.actor("sun")).filter(pk=tech.pk).exists()
    assert not Authorization.objects.writable_by(clinic.world.actor("sun")).filter(pk=tech.pk).exists()


def test_roles_that_may_not_write_are_refused(clinic):
    with pytest.raises(ActionError) as exc:
        _new(clinic, actor_name="li")
    assert exc.value.status == 403
    with pytest.raises(ActionError):
        _new(clinic, actor_name="qian")
    with pytest.raises(NotFoundField):
        actions.change_status(
            clinic.world.actor("qian"), clinic.auths["procedure"].pk, action="suspend", reason="x"
        )
    with pytest.raises(NotFoundField):
        _new(clinic, actor_name="sun")
    with pytest.raises(NotFoundField):
        actions.change_status(
            clinic.world.actor("sun"), clinic.auths["procedure"].pk, action="suspend", reason="x"
        )
