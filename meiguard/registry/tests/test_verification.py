"""Licence verification (校验, IN-04): the last verification date is asked for, not guessed from the licence
start; the next due date follows it by the 1- or 3-year cycle."""

import datetime as dt
import json

import pytest
from django.utils import timezone, translation

from meiguard.audit.models import AuditEntry
from meiguard.core.access import Actor
from meiguard.core.errors import FieldErrors
from meiguard.registry import actions
from meiguard.registry.models import Institution, add_years

from .factories import credit_code, licence_no
from .test_actions import institution_fields


def _today() -> dt.date:
    return timezone.localdate()


def _fields(**overrides):
    base = institution_fields(last_verified_on=None)
    base.update(overrides)
    return base


def test_an_old_licence_without_a_known_verification_is_asked_for_it(world):
    with pytest.raises(FieldErrors) as exc:
        actions.create_institution(Actor.system(), **_fields(licence_valid_from=dt.date(2020, 1, 1)))
    [message] = exc.value.errors["last_verified_on"]
    assert "超过一个校验周期" in message and "上次校验日期" in message
    assert not Institution.objects.exists()
    with translation.override("en"), pytest.raises(FieldErrors) as en:
        actions.create_institution(Actor.system(), **_fields(licence_valid_from=dt.date(2020, 1, 1)))
    assert "last verification" in en.value.errors["last_verified_on"][0]


def test_it_is_reported_together_with_other_field_errors(world):
    with pytest.raises(FieldErrors) as exc:
        actions.create_institution(
            Actor.system(), **_fields(licence_valid_from=dt.date(2020, 1, 1), subjects=[])
        )
    assert {"subjects", "last_verified_on"} <= set(exc.value.errors)


def test_the_next_due_date_follows_the_last_verification_and_cycle(world):
    last = _today() - dt.timedelta(days=400)
    inst = actions.create_institution(
        Actor.system(),
        **_fields(
            institution_type="cosmetic_hospital",
            has_anesthesiology=True,
            subjects=["cosmetic_surgery"],
            verification_cycle_years=3,
            last_verified_on=last,
        ),
    )
    assert inst.next_verification_due == add_years(last, 3)
    assert not inst.verification_overdue(_today())


def test_an_explicit_next_due_date_is_enough(world):
    due = _today() + dt.timedelta(days=30)
    inst = actions.create_institution(
        Actor.system(), **_fields(licence_valid_from=dt.date(2020, 1, 1), next_verification_due=due)
    )
    assert inst.next_verification_due == due and inst.last_verified_on is None


def test_a_new_licence_needs_none_its_first_verification_is_one_cycle_after_it_started(world):
    start = _today() - dt.timedelta(days=100)
    inst = actions.create_institution(Actor.system(), **_fields(licence_valid_from=start))
    assert inst.last_verified_on is None
    assert inst.next_verification_due == add_years(start, 1)
    assert not inst.verification_overdue(_today())


def test_a_last_verification_in_the_future_is_refused(world):
    with pytest.raises(FieldErrors) as exc:
        actions.create_institution(
            Actor.system(), **_fields(last_verified_on=_today() + dt.timedelta(days=1))
        )
    assert "last_verified_on" in exc.value.errors


def test_recording_a_new_verification_moves_the_due_date_and_is_audited(reg, world):
    wang = world.actor("wang")
    old_due = reg.jia.next_verification_due
    today = _today()
    inst = actions.update_institution(wang, reg.jia.pk, last_verified_on=today)
    assert inst.next_verification_due == add_years(today, 1) != old_due
    entry = AuditEntry.objects.get(action="registry.institution.updated", object_id=str(reg.jia.pk))
    assert entry.changes["last_verified_on"][1] == today.isoformat()
    assert entry.changes["next_verification_due"] == [old_due.isoformat(), add_years(today, 1).isoformat()]


def test_a_form_that_resubmits_the_old_due_date_still_moves_it(reg, world):
    today = _today()
    inst = actions.update_institution(
        world.actor("wang"),
        reg.jia.pk,
        last_verified_on=today,
        next_verification_due=reg.jia.next_verification_due,  # unchanged: the page sends every field
    )
    assert inst.next_verification_due == add_years(today, 1)
    explicit = today + dt.timedelta(days=90)  # e.g. 暂缓校验: typed in, kept
    inst = actions.update_institution(
        world.actor("wang"), reg.jia.pk, last_verified_on=today, next_verification_due=explicit
    )
    assert inst.next_verification_due == explicit


# ---- API and pages -----------------------------------------------------------------------------


def _api_body(org_id: int, **changes):
    body = {
        "organization_id": org_id,
        "name": "丙门诊部",
        "credit_code": credit_code(88),
        "licence_no": licence_no(88),
        "institution_type": "aesthetic_outpatient_dept",
        "has_anesthesiology": True,
        "subjects": ["cosmetic_surgery"],
        "licence_valid_from": "2020-01-01",
        "licence_valid_until": "2030-12-31",
        "province": "湖南",
        "city": "长沙",
    }
    body.update(changes)
    return body


@pytest.fixture
def bing(world):
    from meiguard.core.models import Membership, Organization

    org = Organization.objects.create(name="丙门诊部", kind="institution", province="湖南")
    Membership.objects.create(user=world.users["wang"], organization=org, role="institution_admin")
    return org


def _post(c, body, **extra):
    return c.post(
        "/api/v1/registry/institutions", data=json.dumps(body), content_type="application/json", **extra
    )


def test_api_asks_for_the_last_verification(world, bing):
    c = world.client("wang")
    r = _post(c, _api_body(bing.pk))
    assert r.status_code == 422
    assert r.json()["field"] == "last_verified_on"
    r = _post(c, _api_body(bing.pk), HTTP_ACCEPT_LANGUAGE="en")
    assert "last verification" in r.json()["message"]
    r = _post(c, _api_body(bing.pk, last_verified_on="2026-01-15"))
    assert r.status_code == 201, r.content
    assert r.json()["next_verification_due"] == "2027-01-15"


def test_api_refuses_unknown_fields(world, bing):
    r = _post(world.client("wang"), _api_body(bing.pk, last_verified_on="2026-01-15", verified=True))
    assert r.status_code == 422 and r.json()["field"] == "verified"


def test_the_form_asks_for_it_and_the_detail_page_shows_it(world, bing):
    c = world.client("wang")
    data = {
        "organization": bing.pk,
        "name": "丙门诊部",
        "credit_code": credit_code(89),
        "licence_kind": "practice_licence",
        "licence_no": licence_no(89),
        "institution_type": "aesthetic_outpatient_dept",
        "has_anesthesiology": "on",
        "subjects": ["cosmetic_surgery"],
        "licence_valid_from": "2020-01-01",
        "licence_valid_until": "2030-12-31",
        "verification_cycle_years": "1",
        "province": "湖南",
        "city": "长沙",
    }
    r = c.post("/registry/institutions/new/", data)
    assert r.status_code == 200
    assert "请填写上次校验日期" in r.content.decode()
    assert not Institution.objects.filter(name="丙门诊部").exists()
    data["last_verified_on"] = "2026-01-15"
    r = c.post("/registry/institutions/new/", data)
    assert r.status_code == 302, r.content.decode()[:2000]
    inst = Institution.objects.get(name="丙门诊部")
    html = c.get(f"/registry/institutions/{inst.pk}/").content.decode()
    assert "上次校验日期" in html and "2026-01-15" in html and "2027-01-15" in html
