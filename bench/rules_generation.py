#!/usr/bin/env python
"""What it costs the decision path to follow rule-pack publishes made by other processes.

Every request must learn whether a rule-pack version was published since its process cached the pack. The
options timed here, on one small database (the test clinic), p50 over N calls each:

* the old per-process cache generation (``cache.get_many``, locmem) — free, but not seen by other processes;
* the database rules generation read through the ORM (``values_list(...).first()``);
* the same read as compiled SQL (``services.current_generation``, ``lib/fixedsql.FixedQuery``): the choice;
* the cold institution query without and with the generation as a scalar-subquery column (how a cold request
  reads it without a query of its own);
* a warm ``snapshot.load`` given the generation (the old warm path, no query) and reading it (the new one).

    .venv/bin/python bench/rules_generation.py [-n 5000] [--database-url postgres://…/meiguard_bench_gen]

Results: docs/benchmarks.md, "Rules generation".
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import decide as bench


def p50_us(fn: Callable[[], Any], n: int) -> float:
    for _ in range(min(n, 500)):
        fn()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t0)
    samples.sort()
    return samples[len(samples) // 2] / 1000


def run(n: int) -> list[tuple[str, float, int]]:
    import pytest  # noqa: F401  (the test helpers below import it)
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from conftest import World
    from meiguard.authz import snapshot
    from meiguard.authz.tests.conftest import TODAY, authorize, make_doctor, make_institution, make_stock
    from meiguard.lib.fixedsql import FixedQuery
    from meiguard.registry.models import Institution
    from meiguard.rules import services
    from meiguard.rules.models import RulesGeneration
    from meiguard.rules.testing import load_builtin_packs

    call_command("migrate", verbosity=0, interactive=False)
    load_builtin_packs()
    world = World()
    jia = make_institution(world.org_jia.pk, "甲诊所")
    li = make_doctor(jia, "李医生", user_id=world.users["li"].pk)
    stock = make_stock(jia, inspected_on=TODAY)
    authorize(jia, li)
    actor = world.actor("li")
    from meiguard.authz.actions import as_request
    from meiguard.authz.tests.conftest import snapshot_product

    req = as_request(
        institution_id=jia.pk,
        practitioner_id=li.pk,
        procedure_code="derm-botulinum-toxin-injection",
        products=(snapshot_product(stock.lot.pk, 50),),
        device_ids=(stock.device.pk,),
    )
    keys = [snapshot.gen_key("catalog"), snapshot.gen_key("i", jia.pk), snapshot.gen_key("p", li.pk)]
    plain_institution = FixedQuery(
        lambda pk: Institution.objects.filter(pk=pk).order_by().values_list(*snapshot.INSTITUTION_COLUMNS)
    )
    gen = services.current_generation()
    snapshot.load(actor, req)

    options: list[tuple[str, Callable[[], Any]]] = [
        ("old: cache generation, cache.get_many (locmem)", lambda: cache.get_many(keys)),
        (
            "DB generation through the ORM (.first())",
            lambda: RulesGeneration.objects.filter(pk=1).values_list("value", flat=True).first(),
        ),
        ("DB generation, compiled SQL (current_generation)", services.current_generation),
        ("cold institution query, without the generation", lambda: plain_institution.run(jia.pk)),
        ("cold institution query, with it as a subquery", lambda: snapshot.Q_INSTITUTION.run(jia.pk)),
        ("warm snapshot.load, generation given (old path)", lambda: snapshot.load(actor, req, rules_gen=gen)),
        ("warm snapshot.load, reading the generation", lambda: snapshot.load(actor, req)),
    ]
    out = []
    for label, fn in options:
        with CaptureQueriesContext(connection) as ctx:
            fn()
        out.append((label, p50_us(fn, n), len(ctx.captured_queries)))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", type=int, default=5000, help="timed calls per option")
    p.add_argument("--database-url", help="a dedicated PostgreSQL database (dropped and re-created)")
    args = p.parse_args()
    args.db, args.keep = None, False
    # the test suite's key: the clinic below is built through the registry's actions, which encrypt ID numbers
    os.environ["FIELD_ENCRYPTION_KEY"] = "p4Xr5HqWf6Z2j8a1Yk3Nq0TtVb9sLmCxRz7EwUoIgDc="
    bench.configure_environment()
    db = bench.prepare_database(args)
    import django

    django.setup()
    from django.db.backends.signals import connection_created

    connection_created.connect(bench.sqlite_pragmas)
    try:
        rows = run(args.n)
    finally:
        db.cleanup()
    print(f"{db.engine}, p50 of {args.n:,} calls each\n")
    print("| option | p50 | queries |\n|---|---|---|")
    for label, us, queries in rows:
        print(f"| {label} | {us:,.1f} µs | {queries} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
