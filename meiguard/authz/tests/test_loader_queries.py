"""The loader's query count is pinned, and does not grow with the registry."""

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from meiguard.authz import snapshot
from meiguard.authz.models import Authorization
from meiguard.authz.tests.conftest import make_doctor, snapshot_product
from meiguard.registry.models import Practitioner, Qualification

# institution, pack version, practitioners, qualifications, sites, authorizations, lots (+ distribution), devices
COLD_QUERIES = 8
COLD_WITHOUT_PRODUCTS = 6


def _grow(clinic, n: int) -> None:
    """Add n practitioners (each with two qualifications and an authorization) at the clinic."""
    counter = itertools.count()
    people = Practitioner.objects.bulk_create(
        Practitioner(
            name=f"医生{i}",
            id_number="",
            id_number_index=f"bulk-{i}",
            profession="doctor",
            main_institution=clinic.jia,
            practice_scope="皮肤病与性病",
        )
        for i in range(n)
    )
    Qualification.objects.bulk_create(
        Qualification(practitioner=p, kind=kind, subject="cosmetic_dermatology", number=str(next(counter)))
        for p in people
        for kind in ("practice_licence", "chief_physician_filing")
    )
    Authorization.objects.bulk_create(
        Authorization(
            kind="qualification",
            institution=clinic.jia,
            practitioner=p,
            grantor="甲",
            procedure_code="derm-botulinum-toxin-injection",
            valid_from="2020-01-01",
            status="active",
        )
        for p in people
    )


def _cold(clinic, django_assert_num_queries, expected, **changes):
    actor = clinic.world.actor("li")
    snapshot.clear()
    snapshot.load(actor, clinic.request())  # warm the rule-pack cache
    snapshot.clear()
    req = clinic.request(**changes)
    with django_assert_num_queries(expected):
        snap = snapshot.load(actor, req)
    return snap


@pytest.mark.parametrize("size", [10, 10_000])
def test_cold_load_query_count_is_the_same_at_any_size(clinic, django_assert_num_queries, size):
    _grow(clinic, size)
    snap = _cold(clinic, django_assert_num_queries, COLD_QUERIES)
    assert snap.practitioner.id == clinic.li.pk
    assert len(snap.authorizations) == 3  # only li's, not the other practitioners'


@pytest.mark.parametrize("size", [10, 10_000])
def test_cold_load_without_products_or_devices(clinic, django_assert_num_queries, size):
    _grow(clinic, size)
    _cold(clinic, django_assert_num_queries, COLD_WITHOUT_PRODUCTS, products=(), device_ids=())


def test_cold_load_with_a_supervisor_costs_no_extra_query(clinic, django_assert_num_queries):
    snap = _cold(clinic, django_assert_num_queries, COLD_QUERIES, supervisor_id=clinic.li.pk)
    assert snap.supervisor is not None


def test_a_warm_check_is_the_rules_generation_and_one_insert(
    clinic, django_assert_num_queries, django_capture_on_commit_callbacks
):
    from meiguard.authz import actions

    actor = clinic.world.actor("li")
    with django_capture_on_commit_callbacks(execute=True):
        actions.check(actor, clinic.request())
    with django_assert_num_queries(2):  # the rules generation (freshness), the log row
        actions.check(actor, clinic.request())


def test_a_cold_check_stays_within_ten_queries(
    clinic, django_assert_num_queries, django_capture_on_commit_callbacks
):
    """A practitioner not cached yet: loader (7, the rule packs in force already resolved) + the new snapshot
    (1) + the log row (1)."""
    from meiguard.authz import actions
    from meiguard.authz.models import DecisionSnapshot

    actor = clinic.world.actor("li")
    with django_capture_on_commit_callbacks(execute=True):  # another practitioner asked before, same rules
        actions.check(actor, clinic.request(practitioner_id=make_doctor(clinic.jia, "周医生").pk))
    snapshot.clear(rules=False)
    req = clinic.request()
    with django_assert_num_queries(9):
        actions.check(actor, req)
    assert DecisionSnapshot.objects.count() == 2


def test_the_first_check_of_a_process_costs_two_more(clinic, django_assert_num_queries):
    """Nothing cached at all: loader (8, with the rule-pack versions in force) + the rule-pack part of the
    snapshot (1) + the snapshot (1) + the log row (1)."""
    from meiguard.authz import actions
    from meiguard.authz.models import DecisionSnapshot, DecisionSnapshotPack

    actor = clinic.world.actor("li")
    snapshot.clear()
    with django_assert_num_queries(11):
        actions.check(actor, clinic.request())
    assert DecisionSnapshot.objects.count() == DecisionSnapshotPack.objects.count() == 1


def test_equal_snapshots_are_stored_once(clinic, django_capture_on_commit_callbacks):
    from meiguard.authz import actions
    from meiguard.authz.codec import part_digest, snapshot_digest
    from meiguard.authz.models import DecisionLog, DecisionSnapshot, DecisionSnapshotPack

    actor = clinic.world.actor("li")
    for dose in (10, 20, 30):  # the dose is in the request, not in the facts
        with django_capture_on_commit_callbacks(execute=True):
            actions.check(actor, clinic.request(products=(snapshot_product(clinic.lot.pk, dose),)))
    snapshot.clear()  # a cold process does not know what is stored: the insert is ignored, not duplicated
    actions.check(actor, clinic.request())
    assert DecisionLog.objects.count() == 4
    assert DecisionSnapshot.objects.count() == 1
    assert DecisionSnapshotPack.objects.count() == 1
    stored = DecisionSnapshot.objects.get()
    assert "pack" not in stored.data  # the rule-pack part is stored apart, once
    assert stored.pack_id == part_digest(stored.pack.data)
    assert stored.digest == snapshot_digest(stored.facts())


def test_snapshots_share_their_rule_pack_part(clinic, django_capture_on_commit_callbacks):
    """Two practitioners asked about the same procedure: two snapshots, one rule-pack part (stored once,
    and not sent again once this process knows it is stored)."""
    from meiguard.authz import actions
    from meiguard.authz.models import DecisionSnapshot, DecisionSnapshotPack

    with django_capture_on_commit_callbacks(execute=True):
        actions.check(clinic.world.actor("li"), clinic.request())
    other = clinic.request(practitioner_id=make_doctor(clinic.jia, "周医生").pk)
    with CaptureQueriesContext(connection) as ctx, django_capture_on_commit_callbacks(execute=True):
        actions.check(clinic.world.actor("li"), other)
    inserts = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("INSERT")]
    assert not any(DecisionSnapshotPack._meta.db_table in sql.split("(")[0] for sql in inserts)
    assert DecisionSnapshot.objects.count() == 2
    assert DecisionSnapshotPack.objects.count() == 1


def test_lots_and_devices_are_cached_apart_from_people(clinic, django_assert_num_queries):
    """A second person using the same lot and device loads only their own part (5 queries, pack memoised)."""
    actor = clinic.world.actor("li")
    snapshot.clear()
    snapshot.load(actor, clinic.request())
    req = clinic.request(supervisor_id=clinic.li.pk)  # a different people key, the same lot and device
    with django_assert_num_queries(5):
        snap = snapshot.load(actor, req)
    assert snap.lots[0].lot_no == "B2026001"
    assert snapshot.items.hits >= 2


def test_another_procedure_for_the_same_person_costs_only_the_rules_generation(
    clinic, django_assert_num_queries
):
    actor = clinic.world.actor("li")
    snapshot.load(actor, clinic.request())
    req = clinic.request(procedure_code="derm-filler-injection", products=(), device_ids=())
    with django_assert_num_queries(1):
        snap = snapshot.load(actor, req)
    assert snap.pack.procedure.code == "derm-filler-injection"


def test_pack_facts_are_shared_by_institutions_of_the_same_kind(clinic):
    from .conftest import make_doctor, make_institution

    actor = clinic.world.actor("li")
    snapshot.load(actor, clinic.request())
    hits = snapshot._shared_pack_facts.hits
    from meiguard.core.models import Organization

    org = Organization.objects.create(name="丙门诊部", kind="institution")
    bing = make_institution(org.pk, "丙门诊部")  # the same kind, subjects and 麻醉科 as 甲
    doc = make_doctor(bing, "丙医生")
    from meiguard.core.access import Actor

    snap = snapshot.load(
        Actor.system(),
        clinic.request(institution_id=bing.pk, practitioner_id=doc.pk, products=(), device_ids=()),
    )
    assert snapshot._shared_pack_facts.hits == hits + 1
    assert snap.pack.permitted_grade == 2


def test_an_institutions_own_policy_costs_no_query_warm_and_at_most_one_cold(
    clinic, django_assert_num_queries
):
    """The third layer (本机构规范) rides in the query that finds the versions in force: an institution with
    its own policy loads like one on the template; only the first build of its pack reads its rules."""
    import datetime as dt

    from django.utils import timezone

    from meiguard.rules import institution, services

    zhao = clinic.world.actor("zhao")
    draft = institution.save_draft(zhao, clinic.jia.pk, values={"botulinum_units_per_session": "150"})
    institution.publish(zhao, clinic.jia.pk, draft.version, effective_from=timezone.localdate())
    actor = clinic.world.actor("li")
    req = clinic.request(at=dt.datetime.combine(timezone.localdate(), dt.time(12), tzinfo=dt.UTC))
    snapshot.clear()
    snapshot.load(actor, clinic.request())  # warm the shared packs' rules (another day: the template)
    snapshot.clear()
    with django_assert_num_queries(COLD_QUERIES + 1):  # + the own policy's rules, once per process
        first = snapshot.load(actor, req)
    assert first.pack.label == "全国基线 v1 + 本机构规范 v1"
    snapshot.clear()
    with django_assert_num_queries(COLD_QUERIES):  # cold, pack built: as for the template
        snapshot.load(actor, req)
    with django_assert_num_queries(1):  # warm: the rules generation only
        snapshot.load(actor, req)
    assert services.resolve(clinic.jia.province, timezone.localdate(), clinic.jia.pk).institution is not None
