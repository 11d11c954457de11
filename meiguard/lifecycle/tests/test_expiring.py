import datetime as dt

import pytest

from meiguard.authz.tests.conftest import PAST
from meiguard.core.access import Actor
from meiguard.lifecycle.choices import bucket_for
from meiguard.lifecycle.queries import expiring
from meiguard.registry import actions as reg
from meiguard.registry.models import DistributionAuthorization

from .conftest import ON, SYSTEM, authorize, days, expire_licence_in, new_lot

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("days_left", "bucket"),
    [(0, 7), (1, 7), (7, 7), (8, 30), (30, 30), (31, 60), (60, 60), (61, 90), (90, 90), (91, None)],
)
def test_bucket_is_the_smallest_threshold_at_or_above_days_left(days_left, bucket):
    assert bucket_for(days_left) == bucket


def test_it_buckets_items_by_days_left_within_the_window(c):
    lots = {n: new_lot(c, days(n)) for n in (0, 7, 8, 30, 31, 60, 61, 90, 91)}
    new_lot(c, days(-1))  # already expired: not "expiring"
    items = [i for i in expiring(Actor.system(), on=ON) if i.kind == "lot"]
    got = {i.object_id: (i.days_left, i.bucket) for i in items}
    assert got == {lots[n].pk: (n, bucket_for(n)) for n in (0, 7, 8, 30, 31, 60, 61, 90)}
    assert [i.expires_on for i in items] == sorted(i.expires_on for i in items)
    wider = {
        i.object_id: i.bucket for i in expiring(Actor.system(), on=ON, within_days=120) if i.kind == "lot"
    }
    assert wider[lots[91].pk] is None


def test_it_lists_every_kind_with_label_holder_and_link(c, world):
    expire_licence_in(c, 30)
    reg.update_institution(SYSTEM, c.jia.pk, licence_valid_until=days(60))
    reg.create_practitioner_site(
        SYSTEM,
        institution_id=c.jia.pk,
        practitioner_id=c.sun_doctor.pk,
        valid_from=PAST,
        valid_until=days(20),
    )
    reg.update_supplier(SYSTEM, c.toxin.supplier_id, business_licence_valid_until=days(45))
    da = DistributionAuthorization.objects.get(brand="衡力")
    reg.update_distribution_authorization(SYSTEM, da.pk, valid_until=days(50))
    reg.update_product(SYSTEM, c.toxin.pk, registration_valid_until=days(80))
    auth = authorize(c.jia, c.li, procedure_code="derm-chemical-peel", valid_until=days(7))
    reg.update_lot(SYSTEM, c.lot.pk, expiry_date=days(3))

    items = {i.kind: i for i in expiring(world.actor("zhao"), on=ON)}
    assert set(items) == {
        "qualification",
        "institution_licence",
        "practitioner_site",
        "supplier_licence",
        "distribution_authorization",
        "product_registration",
        "authorization",
        "lot",
    }
    q = items["qualification"]
    assert (q.holder, q.practitioner_id, q.institution_id, q.days_left, q.bucket) == (
        "李医生",
        c.li.pk,
        c.jia.pk,
        30,
        30,
    )
    assert q.label.startswith("执业证书") and q.url == f"/registry/practitioners/{c.li.pk}/"
    assert items["institution_licence"].holder == "甲诊所" and items["institution_licence"].bucket == 60
    assert (
        items["practitioner_site"].holder == "孙医生"
        and items["practitioner_site"].institution_id == c.jia.pk
    )
    assert items["supplier_licence"].holder == "华东医药供应链"
    assert "衡力" in items["distribution_authorization"].label
    assert items["product_registration"].url == f"/registry/products/{c.toxin.pk}/"
    assert items["authorization"].url == f"/authz/authorizations/{auth.pk}/"
    assert items["authorization"].holder == "李医生" and items["authorization"].bucket == 7
    assert items["lot"].label == "衡力 B2026001" and items["lot"].kind_label == "批次效期"


def test_other_tenants_items_are_absent(c, world):
    expire_licence_in(c, 30)
    new_lot(c, days(10))
    reg.update_product(SYSTEM, c.toxin.pk, registration_valid_until=days(80))
    mine = {i.kind for i in expiring(world.actor("wang"), on=ON)}
    assert {"qualification", "lot", "product_registration"} <= mine
    assert {i.kind for i in expiring(world.actor("qian"), on=ON)} == mine  # the association oversees 甲
    # 乙医院 holds no lot of 衡力, so even the shared product registration is not its business.
    assert expiring(world.actor("sun"), on=ON) == []
    assert expiring(Actor.anonymous(), on=ON) == []


def test_filters_by_institution_and_practitioner(c, world):
    expire_licence_in(c, 30)
    new_lot(c, days(10))
    sun_lot = new_lot(c, days(10), institution_id=c.yi.pk)
    system = Actor.system()
    assert {i.kind for i in expiring(system, on=ON, practitioner_id=c.li.pk)} == {"qualification"}
    by_yi = expiring(system, on=ON, institution_id=c.yi.pk)
    assert [(i.kind, i.object_id) for i in by_yi] == [("lot", sun_lot.pk)]
    assert expiring(world.actor("sun"), on=ON, institution_id=c.jia.pk) == []


def test_superseded_credentials_and_renewed_authorizations_are_not_listed(c):
    q = expire_licence_in(c, 30)
    reg.create_qualification(
        SYSTEM,
        practitioner_id=c.li.pk,
        kind="practice_licence",
        number="L-NEW",
        issuer="卫健委",
        valid_from=days(0),
        valid_until=days(5 * 365),
    )
    assert [
        i for i in expiring(Actor.system(), on=ON) if i.object_id == q.pk and i.kind == "qualification"
    ] == []


@pytest.mark.parametrize("extra_lots", [1, 40])
def test_query_count_is_fixed(c, world, django_assert_num_queries, extra_lots):
    expire_licence_in(c, 30)
    for n in range(extra_lots):
        new_lot(c, days(1 + n % 90))
    actor = world.actor("zhao")
    with django_assert_num_queries(8):  # one per kind, whatever the number of rows
        items = expiring(actor, on=ON)
    assert len([i for i in items if i.kind == "lot"]) == extra_lots
    with django_assert_num_queries(8):
        expiring(Actor.system(), on=ON, within_days=365)
    with django_assert_num_queries(3):  # a practitioner's items: qualifications, sites, authorizations
        expiring(actor, on=ON, practitioner_id=c.li.pk)


def test_within_days_is_clamped(c):
    new_lot(c, days(1))
    assert len(expiring(Actor.system(), on=ON, within_days=-5)) == 0
    assert expiring(Actor.system(), on=ON, within_days=10**9)  # no overflow


def test_dates_use_the_on_argument_not_today(c):
    lot = new_lot(c, dt.date(2027, 1, 10))
    items = expiring(Actor.system(), on=dt.date(2027, 1, 1), within_days=30)
    assert [(i.object_id, i.days_left) for i in items if i.kind == "lot"] == [(lot.pk, 9)]
