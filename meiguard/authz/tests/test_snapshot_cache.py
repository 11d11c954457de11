"""Hot snapshots are cached, and every write that can change a decision invalidates them."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from meiguard.authz import actions, snapshot
from meiguard.authz.policy import Outcome
from meiguard.registry import actions as reg
from meiguard.rules import services

from .conftest import SYSTEM, authorize, snapshot_product


def _check(clinic, **changes):
    return actions.check(clinic.world.actor("li"), clinic.request(**changes)).decision


def test_a_warm_snapshot_costs_only_the_rules_generation(clinic, django_assert_num_queries):
    """The one query asks the database whether a rule-pack version was published (by any process) since."""
    req = clinic.request()
    actor = clinic.world.actor("li")
    snapshot.load(actor, req)
    with django_assert_num_queries(1):
        snap = snapshot.load(actor, req)
    assert snap.practitioner.name == "李医生"
    assert snapshot.snapshots.hits >= 1
    generation = services.current_generation()
    with django_assert_num_queries(0):  # given the generation (a batch reads it once): no query at all
        snapshot.load(actor, req, rules_gen=generation)


def test_a_batch_reads_the_rules_generation_once(clinic, django_capture_on_commit_callbacks):
    actor = clinic.world.actor("li")
    reqs = [
        clinic.request(products=(snapshot_product(clinic.lot.pk, dose),)) for dose in (10, 20, 30, 40, 50)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        actions.check_batch(actor, list(reqs))
    with CaptureQueriesContext(connection) as ctx:  # five warm items
        actions.check_batch(actor, list(reqs))
    generation_reads = [q for q in ctx.captured_queries if "rulesgeneration" in q["sql"]]
    assert len(generation_reads) == 1


def test_a_cold_snapshot_reads_the_rules_generation_with_the_institution(clinic):
    snapshot.clear()
    with CaptureQueriesContext(connection) as ctx:
        snapshot.load(clinic.world.actor("li"), clinic.request())
    generation = [q["sql"] for q in ctx.captured_queries if "rulesgeneration" in q["sql"]]
    assert len(generation) == 1 and "registry_institution" in generation[0]


def test_warm_path_still_checks_access(clinic):
    req = clinic.request()
    snapshot.load(clinic.world.actor("li"), req)
    from meiguard.core.apierrors import NotFoundField

    with pytest.raises(NotFoundField):
        snapshot.load(clinic.world.actor("sun"), req)


def test_a_new_day_is_a_new_snapshot(clinic):
    actor = clinic.world.actor("li")
    snapshot.load(actor, clinic.request())
    misses = snapshot.snapshots.misses
    snapshot.load(actor, clinic.request(at=clinic.request().at + dt.timedelta(days=1)))
    assert snapshot.snapshots.misses == misses + 1


# Each write, through the app's own actions, and the reason the next check must then give.
WRITES = {
    "authorization suspended": (
        lambda c: actions.change_status(SYSTEM, c.auths["procedure"].pk, action="suspend", reason="审查"),
        "AUTHORIZATION_SUSPENDED",
    ),
    "product authorization revoked": (
        lambda c: actions.change_status(SYSTEM, c.auths["product"].pk, action="revoke", reason="离职"),
        "AUTHORIZATION_REVOKED",
    ),
    "practitioner suspended": (
        lambda c: reg.change_practitioner_status(SYSTEM, c.li.pk, status="suspended", reason="停职调查"),
        "PRACTITIONER_NOT_ACTIVE",
    ),
    "licence rejected": (
        lambda c: reg.verify_qualification(
            SYSTEM, c.li.qualifications.get(kind="practice_licence").pk, status="rejected", note="证书伪造"
        ),
        "PRACTITIONER_LICENCE_MISSING",
    ),
    "filing expired": (
        lambda c: reg.update_qualification(
            SYSTEM,
            c.li.qualifications.get(kind="chief_physician_filing").pk,
            valid_until=dt.date(2025, 12, 31),
        ),
        "PRACTITIONER_NOT_CHIEF_FOR_SUBJECT",
    ),
    "institution suspended": (
        lambda c: reg.change_institution_status(SYSTEM, c.jia.pk, status="suspended", reason="整改"),
        "INSTITUTION_NOT_ACTIVE",
    ),
    "subject removed": (
        lambda c: reg.update_institution(SYSTEM, c.jia.pk, subjects=["cosmetic_surgery"]),
        "SUBJECT_NOT_REGISTERED",
    ),
    "lot recalled": (
        lambda c: reg.change_lot_status(SYSTEM, c.lot.pk, status="recalled", recall_level=1, reason="召回"),
        "LOT_RECALLED",
    ),
    "device to maintenance": (
        lambda c: reg.change_device_status(SYSTEM, c.device.pk, status="maintenance", reason="维修"),
        "DEVICE_NOT_ACTIVE",
    ),
    "product registration lapsed": (
        lambda c: reg.update_product(SYSTEM, c.toxin.pk, registration_valid_until=dt.date(2026, 1, 1)),
        "PRODUCT_REGISTRATION_EXPIRED",
    ),
    "distribution authorization ended": (
        lambda c: reg.update_distribution_authorization(
            SYSTEM, c.toxin.supplier.authorizations.get(brand="衡力").pk, valid_until=dt.date(2026, 1, 1)
        ),
        "SUPPLIER_NOT_AUTHORIZED",
    ),
}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_every_relevant_write_invalidates_the_cached_snapshot(
    clinic, write, django_capture_on_commit_callbacks
):
    assert _check(clinic).outcome == Outcome.ALLOW  # warms the cache
    mutate, code = WRITES[write]
    with django_capture_on_commit_callbacks(execute=True):
        mutate(clinic)
    decision = _check(clinic)
    assert decision.outcome == Outcome.DENY
    assert code in decision.codes()


def test_lifting_a_suspension_restores_access_at_once(clinic, django_capture_on_commit_callbacks):
    pk = clinic.auths["procedure"].pk
    with django_capture_on_commit_callbacks(execute=True):
        actions.change_status(SYSTEM, pk, action="suspend", reason="审查")
    assert _check(clinic).outcome == Outcome.DENY
    with django_capture_on_commit_callbacks(execute=True):
        actions.change_status(SYSTEM, pk, action="reinstate", reason="整改完成")
    assert _check(clinic).outcome == Outcome.ALLOW


def test_a_new_authorization_is_seen_at_once(clinic, django_capture_on_commit_callbacks):
    assert (
        "AUTHORIZATION_MISSING"
        in _check(clinic, procedure_code="derm-filler-injection", products=(), device_ids=()).codes()
    )
    with django_capture_on_commit_callbacks(execute=True):
        authorize(clinic.jia, clinic.li, procedure_code="derm-filler-injection")
    assert (
        _check(clinic, procedure_code="derm-filler-injection", products=(), device_ids=()).outcome
        == Outcome.ALLOW
    )


def test_a_rolled_back_write_does_not_invalidate(clinic, django_capture_on_commit_callbacks):
    from django.db import transaction

    _check(clinic)
    misses = snapshot.snapshots.misses
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                reg.change_lot_status(SYSTEM, clinic.lot.pk, status="recalled", recall_level=1, reason="召回")
                raise RuntimeError("abort")
        except RuntimeError:
            pass
    assert callbacks == []
    assert _check(clinic).outcome == Outcome.ALLOW
    assert snapshot.snapshots.misses == misses


def test_publishing_a_rule_pack_version_invalidates(clinic, django_capture_on_commit_callbacks, tmp_path):
    """A new institution-template version lowering the toxin limit applies from its effective date."""
    import shutil

    from django.conf import settings
    from django.core.management import call_command

    assert _check(clinic, products=(snapshot_product(clinic.lot.pk, 150),)).outcome == Outcome.ALLOW
    src = settings.RULE_PACK_DIR / "institution-template"  # the 200 U limit is an institution rule
    dst = tmp_path / "institution-template"
    shutil.copytree(src, dst)
    text = (dst / "pack.yaml").read_text(encoding="utf-8")
    assert "max_value: 200" in text
    text = text.replace("max_value: 200", "max_value: 100", 1)
    import re

    text = re.sub(r"(?m)^(\s*)version: \d+", r"\g<1>version: 99", text, count=1)
    text = re.sub(r"(?m)^(\s*)effective_from: .*$", r"\g<1>effective_from: 2026-03-01", text, count=1)
    (dst / "pack.yaml").write_text(text, encoding="utf-8")
    call_command("load_rule_pack", str(dst / "pack.yaml"))
    # Loaded but not yet published: nothing changes.
    assert _check(clinic, products=(snapshot_product(clinic.lot.pk, 150),)).outcome == Outcome.ALLOW
    with django_capture_on_commit_callbacks(execute=True):
        call_command("publish_rule_pack", "inst-template", "99", "--effective-from", "2026-03-01")
    decision = _check(clinic, products=(snapshot_product(clinic.lot.pk, 150),))
    assert "DOSE_OVER_LIMIT" in decision.codes()
    # The day before it takes effect, the old limit still applies.
    earlier = clinic.request(
        products=(snapshot_product(clinic.lot.pk, 150),), at=clinic.request().at - dt.timedelta(days=3)
    )
    assert actions.check(clinic.world.actor("li"), earlier).decision.outcome == Outcome.ALLOW
