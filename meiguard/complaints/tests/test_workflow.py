"""The workflow: intake (tracking number, first-contact owner, on the spot), acknowledge → investigate →
resolve → close, notes, handover, escalation to the association, withdrawal; wrong states are 409s; every step
is named and audited; the public status shows nothing personal."""

from __future__ import annotations

import re

import pytest

from meiguard.audit.models import AuditEntry
from meiguard.complaints import actions, queries
from meiguard.complaints.models import Complaint, ComplaintEvent
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.notify.models import Notification

from .conftest import NAME, PHONE, T0, take

pytestmark = pytest.mark.django_db


def test_intake_gives_an_unguessable_tracking_number_and_the_taker_owns_it(clin, clock):
    a, b = take(clin, "zhang"), take(clin, "zhang")
    assert re.fullmatch(r"TS20261204[0-9A-HJKMNP-TV-Z]{8}", a.tracking_no)
    assert a.tracking_no != b.tracking_no
    assert a.owner_id == a.received_by_id == clin.world.users["zhang"].pk
    assert a.status == "received" and a.received_at == T0
    ev = ComplaintEvent.objects.get(complaint=a)
    assert (ev.kind, ev.by_label) == ("received", "zhang")
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            f"SELECT complainant_name, complainant_contact FROM {Complaint._meta.db_table} WHERE id = %s",
            [a.pk],
        )
        raw = cur.fetchone()
    assert NAME not in raw[0] and PHONE not in raw[1]  # encrypted at rest
    assert Complaint.objects.get(pk=a.pk).complainant_name == NAME


def test_resolved_on_the_spot_needs_the_complainants_confirmation(clin, clock):
    with pytest.raises(FieldErrors) as exc:
        take(clin, "zhang", on_spot=True, resolution="当场致歉")
    assert "complainant_confirmed" in exc.value.errors
    c = take(clin, "zhang", on_spot=True, resolution="当场致歉", complainant_confirmed=True)
    assert (c.status, c.resolved_on_spot, c.acknowledged_at, c.resolved_at) == ("resolved", True, T0, T0)
    closed = take(
        clin, "zhang", on_spot=True, resolution="当场退款", complainant_confirmed=True, satisfaction=5
    )
    assert (closed.status, closed.satisfaction) == ("closed", 5)
    assert not Notification.objects.filter(dedupe_key=f"complaints:{c.pk}:received").exists()


def test_the_full_path_each_step_named_and_audited(clin, clock, liu):
    zhang = clin.actor("zhang")
    c = take(clin, "zhang")
    actions.acknowledge(zhang, c.pk, note="已回电")
    actions.investigate(zhang, c.pk)
    actions.add_note(zhang, c.pk, note="调取监控,核实等候时间 50 分钟")
    actions.resolve_complaint(zhang, c.pk, resolution="致歉并赠送复诊")
    actions.close(zhang, c.pk, satisfaction=4)
    c.refresh_from_db()
    assert (c.status, c.satisfaction) == ("closed", 4)
    kinds = list(ComplaintEvent.objects.filter(complaint=c).values_list("kind", "by_label"))
    assert kinds == [
        ("received", "zhang"),
        ("acknowledged", "zhang"),
        ("investigating", "zhang"),
        ("note", "zhang"),
        ("resolved", "zhang"),
        ("closed", "zhang"),
    ]
    codes = list(
        AuditEntry.objects.filter(object_type="complaints.complaint").values_list("action", flat=True)
    )
    assert codes == [
        "complaints.complaint.received",
        "complaints.complaint.acknowledged",
        "complaints.complaint.investigating",
        "complaints.complaint.noted",
        "complaints.complaint.resolved",
        "complaints.complaint.closed",
    ]
    received = AuditEntry.objects.get(action="complaints.complaint.received")
    assert NAME not in str(received.changes) and PHONE not in str(received.changes)


def test_closing_without_an_answer_needs_a_note(clin, clock):
    zhao = clin.actor("zhao")
    c = take(clin, "zhao")
    actions.acknowledge(zhao, c.pk)
    actions.resolve_complaint(zhao, c.pk, resolution="书面答复")
    with pytest.raises(FieldErrors):
        actions.close(zhao, c.pk)
    with pytest.raises(FieldErrors):
        actions.close(zhao, c.pk, satisfaction=6)
    c = actions.close(zhao, c.pk, no_answer_note="三次电话未接通")
    assert (c.status, c.satisfaction, c.closing_note) == ("closed", None, "三次电话未接通")


@pytest.mark.parametrize(
    ("step", "call"),
    [
        ("investigate", lambda a, pk: actions.investigate(a, pk)),
        ("resolve", lambda a, pk: actions.resolve_complaint(a, pk, resolution="x")),
        ("close", lambda a, pk: actions.close(a, pk, satisfaction=3)),
    ],
)
def test_wrong_state_is_a_409_and_writes_nothing(clin, clock, step, call):
    c = take(clin, "zhao")
    before = AuditEntry.objects.count()
    with pytest.raises(ActionError) as exc:
        call(clin.actor("zhao"), c.pk)
    assert (exc.value.code, exc.value.status) == ("COMPLAINT_STATE", 409)
    assert AuditEntry.objects.count() == before
    assert Complaint.objects.get(pk=c.pk).status == "received"


def test_acknowledging_twice_is_a_409(clin, clock):
    c = take(clin, "zhao")
    actions.acknowledge(clin.actor("zhao"), c.pk)
    with pytest.raises(ActionError) as exc:
        actions.acknowledge(clin.actor("zhao"), c.pk)
    assert exc.value.status == 409


def test_handover_to_a_named_colleague_with_a_reason(clin, clock):
    users = clin.world.users
    c = take(clin, "zhang")
    with pytest.raises(FieldErrors):
        actions.handover(clin.actor("zhang"), c.pk, to_user_id=users["li"].pk, reason=" ")
    with pytest.raises(FieldErrors):  # not staff of the institution
        actions.handover(clin.actor("zhang"), c.pk, to_user_id=users["sun"].pk, reason="转交")
    actions.handover(clin.actor("zhang"), c.pk, to_user_id=users["li"].pk, reason="需主诊医师解释")
    c.refresh_from_db()
    assert c.owner_id == users["li"].pk
    ev = ComplaintEvent.objects.get(complaint=c, kind="handover")
    assert (ev.to_user_id, ev.note, ev.by_label) == (users["li"].pk, "需主诊医师解释", "zhang")
    entry = AuditEntry.objects.get(action="complaints.complaint.handed_over")
    assert entry.reason == "需主诊医师解释"
    assert Notification.objects.filter(recipient=users["li"], message_code="complaints.handed_over").exists()
    # The former owner (a nurse) still sees it (she took it) but no longer acts on it.
    with pytest.raises(ActionError) as exc:
        actions.acknowledge(clin.actor("zhang"), c.pk)
    assert (exc.value.code, exc.value.status) == ("COMPLAINT_NOT_OWNER", 403)
    actions.acknowledge(clin.actor("li"), c.pk)


def test_a_nurse_who_neither_took_nor_owns_it_cannot_see_it(clin, clock):
    c = take(clin, "zhao")
    assert not Complaint.objects.visible_to(clin.actor("zhang")).filter(pk=c.pk).exists()
    assert not Complaint.objects.visible_to(clin.actor("li")).filter(pk=c.pk).exists()
    assert Complaint.objects.visible_to(clin.actor("wang")).filter(pk=c.pk).exists()


def test_escalation_shows_the_complaint_to_the_association_only_then(clin, clock):
    users = clin.world.users
    qian = clin.actor("qian")
    c = take(clin, "zhao")
    other = take(clin, "zhao")
    assert not Complaint.objects.visible_to(qian).exists()  # the auditor's general read does not apply
    actions.escalate(clin.actor("zhao"), c.pk, reason="双方协商未果,申请协会调解")
    c.refresh_from_db()
    assert (c.status, c.escalated_to_id) == ("escalated", clin.world.org_assoc.pk)
    assert list(Complaint.objects.visible_to(qian).values_list("pk", flat=True)) == [c.pk]
    assert other.pk not in Complaint.objects.visible_to(qian).values_list("pk", flat=True)
    assert Notification.objects.filter(
        recipient=users["qian"], dedupe_key=f"complaints:{c.pk}:escalated"
    ).exists()
    # The association acts: a note, the mediation result, closing.
    actions.add_note(qian, c.pk, note="约双方到协会调解")
    with pytest.raises(ActionError):
        actions.handover(qian, c.pk, to_user_id=users["li"].pk, reason="x")
    actions.resolve_complaint(qian, c.pk, resolution="调解成功,机构退还部分费用")
    actions.close(qian, c.pk, satisfaction=3)
    c.refresh_from_db()
    assert c.status == "closed"
    by = list(ComplaintEvent.objects.filter(complaint=c).values_list("kind", "by_label"))[-3:]
    assert by == [("note", "qian"), ("resolved", "qian"), ("closed", "qian")]
    assert not Complaint.objects.visible_to(clin.actor("sun")).exists()


def test_escalation_needs_an_overseeing_association(clin, clock, world):
    world.org_assoc.oversees.clear()
    c = take(clin, "zhao")
    with pytest.raises(ActionError) as exc:
        actions.escalate(clin.actor("zhao"), c.pk, reason="x")
    assert (exc.value.code, exc.value.status) == ("NO_ASSOCIATION", 409)


def test_withdrawal_stops_the_clocks(clin, clock):
    c = take(clin, "zhao")
    actions.withdraw(clin.actor("zhao"), c.pk, reason="投诉人表示不再追究")
    assert actions.tick(T0.replace(year=2027))["complaints_ack_breached"] == 0
    with pytest.raises(ActionError):
        actions.withdraw(clin.actor("zhao"), c.pk, reason="again")


def test_other_institutions_staff_and_strangers_get_404(clin, clock):
    from meiguard.core.apierrors import NotFoundField

    c = take(clin, "zhao")
    for who in ("sun", "qian"):
        with pytest.raises(NotFoundField):
            actions.acknowledge(clin.actor(who), c.pk)
    with pytest.raises(NotFoundField):  # sun cannot take a complaint for 甲
        take(clin, "sun")


def test_a_linked_case_must_be_of_the_institution(clin, clock):
    case = clin.case()
    c = take(clin, "zhao", case_id=case.pk, practitioner_ids=[clin.clinic.li.pk])
    assert c.case_id == case.pk and list(c.practitioners.all()) == [clin.clinic.li]
    with pytest.raises(FieldErrors) as exc:
        take(clin, "zhao", practitioner_ids=[clin.clinic.sun_doctor.pk])
    assert "practitioner_ids" in exc.value.errors


def test_the_public_channel_is_only_for_the_public_entry_point(clin, clock, liu):
    with pytest.raises(ActionError):
        take(clin, "zhao", channel="public")
    c = actions.receive_public(
        institution_id=clin.clinic.jia.pk,
        category="price",
        complainant_name=NAME,
        complainant_contact=PHONE,
        description="收费与报价不符",
    )
    assert (c.channel, c.owner_id) == ("public", None)
    assert Notification.objects.filter(
        recipient=clin.world.users["liu"], dedupe_key=f"complaints:{c.pk}:received"
    ).exists()
    # Officers then hand it to someone.
    actions.handover(clin.actor("liu"), c.pk, to_user_id=clin.world.users["zhao"].pk, reason="分派")


def test_public_status_needs_the_phone_tail_and_shows_nothing_personal(clin, clock):
    c = take(clin, "zhao")
    assert queries.public_status(c.tracking_no, "0000") is None
    assert queries.public_status("TS20261204XXXXXXXX", "5678") is None
    status = queries.public_status(c.tracking_no.lower(), "5678")
    assert status is not None and status["tracking_no"] == c.tracking_no
    assert status["status"] == "received"
    blob = str(status)
    assert NAME not in blob and PHONE not in blob and "前台服务" not in blob
