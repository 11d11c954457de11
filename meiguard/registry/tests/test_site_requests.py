"""Roles that cannot overreach: registering a person reveals nothing about other institutions, and another
institution's practitioner is registered for 多点执业 only after their main institution accepts."""

import datetime as dt
import json

import pytest

from meiguard.audit.models import AuditEntry
from meiguard.notify.models import Notification
from meiguard.registry.models import Practitioner, PractitionerSite, PractitionerSiteRequest, Qualification

from .factories import id_number
from .test_actions import practitioner_fields

API = "/api/v1/registry"
FROM = dt.date(2026, 1, 1)


def _post(client, path, body=None):
    return client.post(path, data=json.dumps(body or {}), content_type="application/json")


# ---- the ID-number probe --------------------------------------------------------------------------------


def test_registering_a_person_answers_the_same_whether_or_not_they_exist_elsewhere(reg, world):
    """乙 registers 李医生's ID number (甲's doctor) and a fresh one: both succeed the same way."""
    client = world.client("sun")
    answers = []
    for number in (reg.li.id_number, id_number(777)):
        fields = practitioner_fields(id_number=number, name="同名医生")
        fields["practising_since"] = "2015-01-01"
        r = _post(client, f"{API}/practitioners", {"main_institution_id": reg.yi.pk, **fields})
        answers.append((r.status_code, sorted(r.json())))
    assert answers[0] == answers[1] and answers[0][0] == 201
    # 乙's new record is its own: nothing of 甲's (li's record, qualifications) became visible to 乙.
    sun = world.actor("sun")
    assert not Practitioner.objects.visible_to(sun).filter(pk=reg.li.pk).exists()
    assert not Qualification.objects.visible_to(sun).filter(practitioner=reg.li).exists()


# ---- multi-site requests ---------------------------------------------------------------------------------


def _request(world, reg, *, name="李医生", number=None):
    r = _post(
        world.client("sun"),
        f"{API}/practitioner-site-requests",
        {
            "institution_id": reg.yi.pk,
            "id_number": number or reg.li.id_number,
            "name": name,
            "valid_from": str(FROM),
            "note": "每周六出诊",
        },
    )
    assert r.status_code == 201, r.content
    return r.json()


def test_a_request_for_a_real_or_unknown_person_reads_the_same_to_the_host(reg, world):
    real = _request(world, reg)
    unknown = _request(world, reg, name="无此人", number=id_number(778))
    same = {k for k in real if k not in ("id", "created_at", "name", "id_number_masked")}
    assert {k: real[k] for k in same} == {k: unknown[k] for k in same}
    assert real["status"] == "pending" and real["practitioner_id"] is None and real["site_id"] is None
    # The host's list shows both as pending, naming nobody.
    listed = world.client("sun").get(f"{API}/practitioner-site-requests?direction=outgoing").json()
    assert [(x["status"], x["practitioner_id"]) for x in listed["items"]] == [("pending", None)] * 2
    # The host's audit entries do not say whom the request matched.
    entries = AuditEntry.objects.filter(action="registry.practitionersiterequest.created")
    assert entries.count() == 2 and {e.organization_id for e in entries} == {world.org_yi.pk}
    assert all("practitioner" not in e.changes for e in entries)


def test_nothing_of_theirs_is_visible_before_the_main_institution_accepts(reg, world):
    _request(world, reg)
    sun, client = world.actor("sun"), world.client("sun")
    assert not Practitioner.objects.visible_to(sun).filter(pk=reg.li.pk).exists()
    assert not Qualification.objects.visible_to(sun).filter(practitioner=reg.li).exists()
    assert client.get(f"{API}/practitioners/{reg.li.pk}").status_code == 404
    assert client.get(f"/registry/practitioners/{reg.li.pk}/").status_code == 404
    assert not PractitionerSite.objects.exists()


def test_the_main_institution_sees_and_is_told_about_the_incoming_request(
    reg, world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        req = _request(world, reg)
    told = Notification.objects.filter(kind="registration")
    assert {n.recipient.username for n in told} == {"wang", "zhao"}  # 甲's admin and compliance officer
    (incoming,) = world.client("zhao").get(f"{API}/practitioner-site-requests").json()["items"]
    assert (incoming["id"], incoming["practitioner_id"]) == (req["id"], reg.li.pk)
    # Nobody is told about a request that matched no one.
    _request(world, reg, name="无此人", number=id_number(779))
    assert Notification.objects.filter(kind="registration").count() == 2


def test_accepting_registers_the_site_audits_and_notifies_the_host(
    reg, world, django_capture_on_commit_callbacks
):
    req = _request(world, reg)
    with django_capture_on_commit_callbacks(execute=True):
        r = _post(
            world.client("zhao"), f"{API}/practitioner-site-requests/{req['id']}/accept", {"note": "同意"}
        )
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["status"] == "accepted" and body["site_id"] and body["practitioner_id"] == reg.li.pk
    site = PractitionerSite.objects.get()
    assert (site.practitioner_id, site.institution_id, site.valid_from) == (reg.li.pk, reg.yi.pk, FROM)
    accepted = AuditEntry.objects.get(action="registry.practitionersiterequest.accepted")
    assert accepted.organization_id == world.org_jia.pk and accepted.actor_label == "zhao"
    assert (
        AuditEntry.objects.get(action="registry.practitionersite.created").organization_id == world.org_yi.pk
    )
    assert Notification.objects.filter(recipient__username="sun", kind="registration").exists()
    # Now 乙 sees the practitioner and their qualifications.
    sun = world.actor("sun")
    assert Practitioner.objects.visible_to(sun).filter(pk=reg.li.pk).exists()
    host_view = world.client("sun").get(f"{API}/practitioner-site-requests?direction=outgoing").json()
    assert host_view["items"][0]["practitioner_id"] == reg.li.pk
    # Deciding twice is refused.
    again = _post(world.client("zhao"), f"{API}/practitioner-site-requests/{req['id']}/refuse")
    assert again.status_code == 409 and again.json()["code"] == "ALREADY_DECIDED"


def test_refusing_leaves_nothing_visible_and_is_audited_and_notified(
    reg, world, django_capture_on_commit_callbacks
):
    req = _request(world, reg)
    with django_capture_on_commit_callbacks(execute=True):
        r = _post(
            world.client("wang"), f"{API}/practitioner-site-requests/{req['id']}/refuse", {"note": "未签协议"}
        )
    assert r.status_code == 200 and r.json()["status"] == "refused"
    assert r.json()["practitioner_id"] == reg.li.pk  # the deciding side knows its own doctor
    assert not PractitionerSite.objects.exists()
    assert not Practitioner.objects.visible_to(world.actor("sun")).filter(pk=reg.li.pk).exists()
    refused = AuditEntry.objects.get(action="registry.practitionersiterequest.refused")
    assert refused.organization_id == world.org_jia.pk and refused.reason == "未签协议"
    host = world.client("sun").get(f"{API}/practitioner-site-requests?direction=outgoing").json()["items"][0]
    assert (host["status"], host["practitioner_id"], host["decision_note"]) == ("refused", None, "未签协议")
    note = Notification.objects.get(recipient__username="sun", kind="registration")
    assert "已拒绝" in note.title


@pytest.mark.parametrize("who", ["li", "qian", "sun"])
def test_only_the_main_institutions_admin_or_compliance_officer_decides(reg, world, who):
    req = _request(world, reg)
    r = _post(world.client(who), f"{API}/practitioner-site-requests/{req['id']}/accept")
    assert r.status_code == 404  # the doctor, an auditor, and the host itself cannot accept
    assert PractitionerSiteRequest.objects.get().status == "pending"


def test_the_host_may_withdraw_its_pending_request(reg, world):
    req = _request(world, reg)
    assert (
        _post(world.client("wang"), f"{API}/practitioner-site-requests/{req['id']}/withdraw").status_code
        == 404
    )
    r = _post(world.client("sun"), f"{API}/practitioner-site-requests/{req['id']}/withdraw")
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert AuditEntry.objects.filter(action="registry.practitionersiterequest.withdrawn").count() == 1


def test_request_input_is_validated(reg, world):
    client = world.client("sun")
    bad = _post(
        client,
        f"{API}/practitioner-site-requests",
        {
            "institution_id": reg.yi.pk,
            "id_number": "110105198503121231",
            "name": "李医生",
            "valid_from": "2026-01-01",
        },
    )
    assert bad.status_code == 422 and bad.json()["field"] == "id_number"
    extra = _post(
        client,
        f"{API}/practitioner-site-requests",
        {
            "institution_id": reg.yi.pk,
            "id_number": reg.li.id_number,
            "name": "李医生",
            "valid_from": "2026-01-01",
            "x": 1,
        },
    )
    assert extra.status_code == 422
    _request(world, reg)
    twice = _post(
        client,
        f"{API}/practitioner-site-requests",
        {
            "institution_id": reg.yi.pk,
            "id_number": reg.li.id_number,
            "name": "李医生",
            "valid_from": "2026-01-01",
        },
    )
    assert twice.status_code == 422 and twice.json()["field"] == "id_number"


def test_the_incoming_requests_page_offers_accept_and_refuse(reg, world):
    req = _request(world, reg)
    page = world.client("zhao").get("/registry/site-requests/").content.decode()
    assert f'data-request="{req["id"]}"' in page and "李医生" in page
    assert f"/registry/site-requests/{req['id']}/accept/" in page
    assert f"/registry/site-requests/{req['id']}/refuse/" in page
    # The doctor sees the request but no buttons; the host's page shows it as pending, naming no one's record.
    assert "/accept/" not in world.client("li").get("/registry/site-requests/").content.decode()
    host = world.client("sun").get("/registry/site-requests/").content.decode()
    assert "待确认" in host and f"/registry/practitioners/{reg.li.pk}/" not in host
    r = world.client("zhao").post(f"/registry/site-requests/{req['id']}/refuse/", {"note": "不同意"})
    assert r.status_code == 302
    assert PractitionerSiteRequest.objects.get().status == "refused"
    assert world.client("sun").post(f"/registry/site-requests/{req['id']}/accept/").status_code == 404
