"""Only the institution's staff (or its HIS token) record clinical checks; an auditor's what-if writes nothing
and never counts against a doctor in a review campaign."""

import datetime as dt
import json

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from meiguard.authz import actions
from meiguard.authz.models import DecisionLog, DecisionSnapshot
from meiguard.core.tokens import create_token
from meiguard.reviews import checklist
from meiguard.reviews.periods import Quarter

from .conftest import SYSTEM

PAST = "2026-02-10T10:00:00+08:00"
MISSING = {"procedure_code": "derm-filler-injection", "products": [], "device_ids": [], "at": PAST}


def _post(client, path, body, **headers):
    return client.post(path, data=json.dumps(body), content_type="application/json", **headers)


def test_an_auditor_may_ask_but_the_check_is_a_simulation_that_writes_nothing(clinic):
    snapshots_before = DecisionSnapshot.objects.count()
    r = _post(clinic.world.client("qian"), "/api/v1/decisions", clinic.payload(**MISSING))
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["outcome"] == "deny" and body["recorded"] is False and body["id"] is None
    assert "AUTHORIZATION_MISSING" in {x["code"] for x in body["reasons"]}
    assert not DecisionLog.objects.exists()
    assert DecisionSnapshot.objects.count() == snapshots_before


def test_an_auditors_batch_is_not_recorded_either(clinic):
    body = {"requests": [clinic.payload(**MISSING), clinic.payload()]}
    r = _post(clinic.world.client("qian"), "/api/v1/decisions/batch", body)
    assert r.status_code == 200, r.content
    results = r.json()["results"]
    assert [x["decision"]["recorded"] for x in results] == [False, False]
    assert not DecisionLog.objects.exists()


def test_an_auditor_on_the_check_page_sees_a_simulation(clinic):
    checked = actions.check(clinic.world.actor("qian"), clinic.request())
    assert checked.recorded is False and checked.log.pk is None
    assert not DecisionLog.objects.exists()


@pytest.mark.parametrize("who", ["li", "zhang", "wang"])
def test_institution_staff_record_their_checks(clinic, who):
    r = _post(clinic.world.client(who), "/api/v1/decisions", clinic.payload(**MISSING))
    body = r.json()
    assert body["recorded"] is True and DecisionLog.objects.get().pk == body["id"]


def test_the_institutions_his_token_records_checks(clinic):
    with transaction.atomic():
        _, raw = create_token(SYSTEM, clinic.world.users["zhao"], name="HIS")
    r = _post(Client(), "/api/v1/decisions", clinic.payload(), HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert r.json()["recorded"] is True and DecisionLog.objects.count() == 1


def test_another_institution_cannot_ask_about_its_practitioners(clinic):
    r = _post(clinic.world.client("sun"), "/api/v1/decisions", clinic.payload(**MISSING))
    assert r.status_code == 404
    assert not DecisionLog.objects.exists()


def test_review_campaigns_count_only_checks_by_institution_staff(clinic):
    when = timezone.make_aware(dt.datetime(2026, 2, 10, 10, 0))
    staff = actions.check(
        clinic.world.actor("li"),
        clinic.request(procedure_code="derm-filler-injection", products=(), device_ids=(), at=when),
    )
    assert staff.recorded and staff.decision.outcome == "deny"
    # A row an auditor left in the log before checks by non-staff became simulations (same request, by qian):
    legacy = DecisionLog.objects.get(pk=staff.log.pk)
    legacy.pk = None
    legacy._state.adding = True
    legacy.asked_by_id = clinic.world.users["qian"].pk
    legacy.actor_label = "qian"
    legacy.save(force_insert=True)
    assert DecisionLog.objects.filter(outcome="deny").count() == 2
    q1 = Quarter(2026, 1)
    (item,) = checklist.denied_decisions(clinic.jia, q1.start, q1.end)
    assert item.evidence_count == 1 and list(item.decision_ids) == [staff.log.pk]
