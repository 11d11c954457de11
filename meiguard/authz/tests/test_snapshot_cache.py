"""Hot snapshots are cached, and every write that can change a decision invalidates them."""

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext

from meiguard.authz import actions, snapshot
from meiguard.authz.policy import Outcome
from meiguard.rules import services

from .conftest import snapshot_product


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


def test_a_batch_reads_the_rules_generation_once(
    clinic, django_assert_num_queries, django_capture_on_commit_callbacks
):
    actor = clinic.world.actor("li")
    reqs = [clinic.request(procedure_code=code) for code in ("derm-botulinum-toxin-injection",) * 5]
    with django_capture_on_commit_callbacks(execute=True):
        actions.check_batch(actor, list(reqs))
    # the rules generation, then one transaction: savepoint/commit around the log rows' insert
    with CaptureQueriesContext(connection) as ctx:
        actions.check_batch(actor, list(reqs))
    generation_reads = [q for q in ctx.captured_queries if "rulesgeneration" in q["sql"]]
    assert len(generation_reads) == 1


def test_a_cold_snapshot_reads_the_rules_generation_with_the_institution(clinic):
    snapshot.clear()
    with CaptureQueriesContext(connection) as ctx:
        snapshot.load(clinic.world.actor("li"), clinic.request())
    generation = [q["sql"] for q in ctx.captured_queries if "rulesgeneration" in q["sql"]]
    assert len(generation) == 1 and "registry_institution" in generation[0]


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
