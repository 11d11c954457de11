"""The database-backed check: load → decide → log, access, replay."""

import datetime as dt

import pytest

from meiguard.authz import actions
from meiguard.authz.models import DecisionLog
from meiguard.authz.policy import Outcome
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import FieldErrors

from .conftest import SYSTEM


def test_the_clinic_fixture_is_an_allowed_case(clinic):
    checked = actions.check(clinic.world.actor("li"), clinic.request())
    assert checked.decision.reasons == ()
    assert checked.decision.outcome == Outcome.ALLOW


def test_every_decision_is_logged_with_request_snapshot_and_pack(clinic):
    actions.check(clinic.world.actor("zhao"), clinic.request(products=()), channel="ui")
    row = DecisionLog.objects.get()
    assert (row.institution_id, row.practitioner_id, row.procedure_code) == (
        clinic.jia.pk,
        clinic.li.pk,
        "derm-botulinum-toxin-injection",
    )
    assert row.outcome == "allow"
    assert row.rule_pack == "全国基线 v1 + 机构规范模板 v1"
    assert row.actor_label == "zhao"
    assert row.channel == "ui"
    assert row.snapshot.data["practitioner"]["name"] == "李医生"
    assert row.request["procedure_code"] == "derm-botulinum-toxin-injection"


def test_the_returned_log_row_is_the_stored_one(clinic):
    """The log row is written with a prepared INSERT … RETURNING: what check() returns is what was stored."""
    checked = actions.check(clinic.world.actor("li"), clinic.request())
    stored = DecisionLog.objects.get()
    assert checked.log.pk == stored.pk and not checked.log._state.adding
    for f in DecisionLog._meta.concrete_fields:
        assert getattr(checked.log, f.attname) == getattr(stored, f.attname), f.name
    assert stored.created_at is not None and stored.at == clinic.request().at


def test_a_deny_lists_every_reason(clinic):
    from meiguard.registry import actions as reg

    reg.change_lot_status(SYSTEM, clinic.lot.pk, status="recalled", recall_level=1, reason="厂家召回")
    req = clinic.request(
        products=(
            __import__("meiguard.authz.tests.conftest", fromlist=["x"]).snapshot_product(clinic.lot.pk, 250),
        )
    )
    checked = actions.check(clinic.world.actor("li"), req)
    assert checked.decision.outcome == Outcome.DENY
    assert set(checked.decision.codes()) == {"LOT_RECALLED", "DOSE_OVER_LIMIT"}
    assert DecisionLog.objects.get().reason_codes == list(checked.decision.codes())


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"institution_id": 10**9}, "institution_id"),
        ({"practitioner_id": 10**9}, "practitioner_id"),
        ({"supervisor_id": 10**9}, "supervisor_id"),
        ({"device_ids": (10**9,)}, "device_ids[0]"),
    ],
)
def test_unknown_ids_are_404_naming_the_field(clinic, change, field):
    with pytest.raises(NotFoundField) as exc:
        actions.check(clinic.world.actor("li"), clinic.request(**change))
    assert exc.value.field == field
    assert not DecisionLog.objects.exists()


def test_unknown_procedure_code_is_a_field_error(clinic):
    with pytest.raises(FieldErrors) as exc:
        actions.check(clinic.world.actor("li"), clinic.request(procedure_code="no-such-procedure"))
    assert (exc.value.field, exc.value.status) == ("procedure_code", 422)
    assert not DecisionLog.objects.exists()


def test_foreign_objects_are_404_like_unknown_ones(clinic):
    sun = clinic.world.actor("sun")
    with pytest.raises(NotFoundField) as exc:
        actions.check(sun, clinic.request())
    assert exc.value.field == "institution_id"
    # li at 甲 cannot name 乙's doctor as a supervisor, even once 甲's snapshot is warm.
    actions.check(clinic.world.actor("li"), clinic.request())
    with pytest.raises(NotFoundField) as exc:
        actions.check(clinic.world.actor("li"), clinic.request(supervisor_id=clinic.sun_doctor.pk))
    assert exc.value.field == "supervisor_id"


def test_auditor_of_the_association_may_check_overseen_institution(clinic):
    checked = actions.check(clinic.world.actor("qian"), clinic.request())
    assert checked.decision.allowed


def test_replay_explains_a_past_allow_after_the_data_changed(clinic, django_capture_on_commit_callbacks):
    first = actions.check(clinic.world.actor("li"), clinic.request())
    with django_capture_on_commit_callbacks(execute=True):
        actions.change_status(
            SYSTEM, clinic.auths["procedure"].pk, action="suspend", reason="季度审查发现超范围"
        )
    r = actions.replay(clinic.world.actor("zhao"), first.log.pk)
    assert r.recorded.outcome == Outcome.ALLOW
    assert r.replayed == r.recorded and r.reproducible
    assert r.current is not None
    assert "AUTHORIZATION_SUSPENDED" in r.current.codes()


def test_replay_of_a_foreign_decision_is_404(clinic):
    first = actions.check(clinic.world.actor("li"), clinic.request())
    with pytest.raises(NotFoundField):
        actions.replay(clinic.world.actor("sun"), first.log.pk)


def test_decision_log_is_append_only(clinic):
    from meiguard.audit.models import AppendOnlyError

    row = actions.check(clinic.world.actor("li"), clinic.request()).log
    with pytest.raises(AppendOnlyError):
        row.save()
    with pytest.raises(AppendOnlyError):
        DecisionLog.objects.all().update(outcome="allow")
    with pytest.raises(AppendOnlyError):
        row.delete()


def test_boundary_licence_valid_until_today_warns(clinic, django_capture_on_commit_callbacks):
    from meiguard.registry import actions as reg

    with django_capture_on_commit_callbacks(execute=True):
        reg.update_institution(SYSTEM, clinic.jia.pk, licence_valid_until=dt.date(2026, 3, 3))
    checked = actions.check(clinic.world.actor("li"), clinic.request())
    assert checked.decision.outcome == Outcome.ALLOW_WITH_WARNINGS
    assert checked.decision.codes() == ("INSTITUTION_LICENCE_EXPIRING",)


def test_every_rule_a_decision_cites_is_a_real_rule_of_the_pack(clinic):
    from meiguard.rules.services import resolve

    snap = actions.check(clinic.world.actor("li"), clinic.request()).snapshot
    pack = resolve("湖南", dt.date(2026, 3, 3))
    p = snap.pack
    refs = [
        p.grade_rule,
        p.supervision_rule,
        p.nurse_rule,
        p.nurse_training_rule,
        p.authorization_rule,
        p.product_rule,
        p.device_rule,
        p.procedure.rule,
        *(lim.rule for lim in p.dose_limits),
        *(lim.rule for lim in p.duration_limits),
    ]
    assert p.chief is not None
    refs.append(p.chief.rule)
    for ref in refs:
        assert ref.rule_id in pack.rules, ref
        assert ref.source == pack.rules[ref.rule_id].source
