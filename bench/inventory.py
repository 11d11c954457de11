#!/usr/bin/env python
"""Benchmark: resolving a scanned 20-digit drug trace code and recording its use, at 10,000,000 received codes.

Generates (seeded; bulk SQL ``INSERT … SELECT`` for the codes) institutions with a storage location, lots with
an accepted receipt line each, and N received trace codes spread over the lots, then times, beside a single
indexed point lookup of a code (the baseline, measured in the same run):

- resolve: ``inventory.actions.take_trace_code`` (the locked, indexed look-up the clinical usage runs);
- resolve + use: the same plus ``record_use`` (claim the unit, the issue movement, the lot's cached total:
  three compiled statements) in one transaction, committed;
- resolve + use, marginal: the same inside an already open transaction — what inventory adds to recording a
  usage by scan, whose transaction and audit entry (which names the code and the movement) the usage pays for
  anyway (the engine re-run and the usage row are measured by bench/decide.py and bench/clinical.py).

Target: the marginal resolve + use p50 within 3× of the point lookup p50 (the commit belongs to the usage).
See docs/benchmarks.md, "Inventory".

    .venv/bin/python bench/inventory.py            # full run: 10,000,000 codes
    .venv/bin/python bench/inventory.py --quick    # 1,000,000 codes
    .venv/bin/python bench/inventory.py --database-url postgres://postgres@127.0.0.1:5432/inventory_bench
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import decide as common
from decide import Row, Timing, log, us, verdict

TARGET_RATIO = 3.0
MULTIPLIER = 2654435761  # odd and not a multiple of 5: x → x·M mod 10^18 is a permutation (scattered codes)
MODULUS = 10**18


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1,000,000 received codes instead of 10,000,000")
    p.add_argument("--codes", type=int, help="received trace codes (default 10,000,000; --quick 1,000,000)")
    p.add_argument("--institutions", type=int, default=200)
    p.add_argument("--lots-per-institution", type=int, default=20)
    p.add_argument(
        "--samples", type=int, help="timed operations per measurement (default 2,000; --quick 1,000)"
    )
    p.add_argument("--seed", type=int, default=20261202)
    common.database_args(p, "inventory_bench")
    args = p.parse_args(argv)
    common.fill_defaults(
        args,
        {"codes": 1_000_000 if args.quick else 10_000_000, "samples": 1_000 if args.quick else 2_000},
    )
    if args.codes < args.samples * 3:
        p.error("--codes must be at least three times --samples")
    return args


def code_of(x: int) -> str:
    """The x-th generated code: '86' + 18 scattered digits (the same formula as the SQL below)."""
    return f"86{(x * MULTIPLIER) % MODULUS:018d}"


def generate(args: argparse.Namespace, rows: Counter[str]) -> dict[str, Any]:
    """Institutions, a location each, lots with one accepted receipt line each; then the codes in bulk SQL."""
    import datetime as dt

    from django.db import connection, transaction
    from django.utils import timezone

    from meiguard.core.choices import OrganizationKind, Role
    from meiguard.core.models import Membership, Organization, User
    from meiguard.inventory.models import Receipt, ReceiptLine, StorageLocation
    from meiguard.registry.models import Institution, Lot, Product, Supplier

    past, far = dt.date(2020, 1, 1), dt.date(2030, 12, 31)
    now = timezone.now()
    n_inst, per = args.institutions, args.lots_per_institution
    with transaction.atomic():
        sorg = Organization.objects.create(name="华东医药供应链", kind=OrganizationKind.SUPPLIER)
        supplier = Supplier.objects.create(
            organization=sorg,
            name="华东医药供应链",
            credit_code="91330100MA2B00001X",
            business_licence_no="91330100MA2B00001X",
            business_licence_valid_from=past,
        )
        toxin = Product.objects.create(
            supplier=supplier,
            generic_name="注射用A型肉毒毒素",
            brand_name="衡力",
            kind="drug",
            registration_no="国药准字S10970037",
            registrant="兰州生物制品研究所",
            registration_valid_until=far,
            high_risk=True,
            # Measured as a plain drug: a high-risk unit (the toxin's category) is used out of a confirmed
            # two-person issue (one more indexed look-up and update); the bench measures the base path.
            category="local_anesthetic",
            dose_unit="U",
            cold_chain=True,
        )
        orgs = Organization.objects.bulk_create(
            [Organization(name=f"医美机构{i:05d}", kind=OrganizationKind.INSTITUTION) for i in range(n_inst)]
        )
        insts = Institution.objects.bulk_create(
            [
                Institution(
                    organization_id=org.pk,
                    name=f"医美机构{i:05d}",
                    credit_code=f"91{i:016d}",
                    licence_no=f"PDY{i:08d}43010217D1001",
                    institution_type="aesthetic_outpatient_dept",
                    subjects=["cosmetic_dermatology"],
                    licence_valid_from=past,
                    licence_valid_until=far,
                    verification_cycle_years=1,
                    next_verification_due=far,
                    province="湖南",
                    city="长沙",
                )
                for i, org in enumerate(orgs)
            ]
        )
        user = User.objects.create_user(username="nurse-bench", password=None, display_name="bench nurse")
        Membership.objects.bulk_create(
            [Membership(user=user, organization_id=org.pk, role=Role.PROCUREMENT) for org in orgs]
        )
        locs = StorageLocation.objects.bulk_create(
            [StorageLocation(institution=inst, name="药房冷藏柜", kind="cold_chain") for inst in insts]
        )
        receipts = Receipt.objects.bulk_create(
            [
                Receipt(
                    institution=inst,
                    supplier=supplier,
                    delivery_note_no=f"SH{i:06d}",
                    received_at=now,
                    received_by=user,
                )
                for i, inst in enumerate(insts)
            ]
        )
        lots = Lot.objects.bulk_create(
            [
                Lot(
                    product=toxin,
                    lot_no=f"B{i:05d}{j:03d}",
                    expiry_date=far,
                    unit="piece",
                    institution=inst,
                )
                for i, inst in enumerate(insts)
                for j in range(per)
            ],
            batch_size=5_000,
        )
        lines = ReceiptLine.objects.bulk_create(
            [
                ReceiptLine(
                    receipt=receipts[k // per],
                    product=toxin,
                    lot_no=lot.lot_no,
                    expiry_date=far,
                    quantity=1,
                    unit="piece",
                    location=locs[k // per],
                    identified_by="trace_code",
                    temperature_c=5,
                    packaging_intact=True,
                    status="accepted",
                    lot=lot,
                    keep_until=dt.date(2032, 12, 31),
                )
                for k, lot in enumerate(lots)
            ],
            batch_size=5_000,
        )
    for name, objs in (
        ("Institution", insts),
        ("StorageLocation", locs),
        ("Receipt", receipts),
        ("Lot", lots),
        ("ReceiptLine", lines),
    ):
        rows[name] += len(objs)
    # The lot map: ordinal → (lot, institution, location, receipt line), joined by the bulk code insert.
    nlots = len(lots)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_lotmap (idx INTEGER PRIMARY KEY, lot BIGINT, inst BIGINT, loc BIGINT, line BIGINT)"
        )
        cursor.executemany(
            "INSERT INTO bench_lotmap (idx, lot, inst, loc, line) VALUES (%s, %s, %s, %s, %s)",
            [(k, lot.pk, lot.institution_id, locs[k // per].pk, lines[k].pk) for k, lot in enumerate(lots)],
        )
    log(f"inserting {args.codes:,} trace codes (bulk SQL)")
    chunk = 1_000_000
    vendor = connection.vendor
    for start in range(0, args.codes, chunk):
        stop = min(args.codes, start + chunk)
        with transaction.atomic(), connection.cursor() as cursor:
            if vendor == "postgresql":
                series = f"SELECT generate_series({start}, {stop - 1}) AS x"
                code = f"'86' || lpad(((x::numeric * {MULTIPLIER}) %% {MODULUS})::text, 18, '0')"
            else:
                series = (
                    f"WITH RECURSIVE s(x) AS (SELECT {start} UNION ALL SELECT x + 1 FROM s WHERE x < {stop - 1}) "
                    "SELECT x FROM s"
                )
                code = f"'86' || printf('%%018d', (x * {MULTIPLIER}) %% {MODULUS})"
            cursor.execute(
                "INSERT INTO inventory_tracecode (code, institution_id, lot_id, location_id, receipt_line_id, "
                "status, created_at) "
                f"SELECT {code}, m.inst, m.lot, m.loc, m.line, 'received', %s "
                f"FROM ({series}) AS g JOIN bench_lotmap m ON m.idx = g.x %% {nlots}",
                [now],
            )
        log(f"  {stop:,} codes")
    rows["TraceCode"] += args.codes
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_lotmap")
    return {"user_id": user.pk, "nlots": nlots, "lots": [(lot.pk, lot.institution_id) for lot in lots]}


def measure(args: argparse.Namespace, world: dict[str, Any]) -> tuple[dict[str, Timing], dict[str, Counter]]:
    from django.db import transaction

    from meiguard.core.access import build_actor
    from meiguard.core.models import User
    from meiguard.inventory import actions
    from meiguard.inventory.models import TraceCode

    rng = random.Random(args.seed)
    nlots = world["nlots"]
    lot_inst = dict(world["lots"])
    lot_ids = [lot for lot, _inst in world["lots"]]
    actor = build_actor(User.objects.get(pk=world["user_id"]))
    # Distinct codes for each measurement (a code is used once): lookups, resolutions, uses.
    picks = rng.sample(range(args.codes), args.samples * 5 + 550)
    look, resolve, use, counted, look_compiled = (
        picks[: args.samples + 100],
        picks[args.samples + 100 : 2 * args.samples + 200],
        picks[2 * args.samples + 200 : 4 * args.samples + 400],
        picks[4 * args.samples + 400 : 4 * args.samples + 450],
        picks[4 * args.samples + 450 :],
    )
    from meiguard.lib.fixedsql import FixedQuery

    compiled = FixedQuery(lambda c: TraceCode.objects.filter(code=c).values_list("pk", "lot_id", "status"))

    def inst_of(x: int) -> int:
        return lot_inst[lot_ids[x % nlots]]

    def lookup(x: int) -> Any:
        return TraceCode.objects.filter(code=code_of(x)).first()

    def lookup_compiled(x: int) -> Any:
        return compiled.run(code_of(x))

    def resolve_only(x: int) -> Any:
        with transaction.atomic():
            return actions.take_trace_code(inst_of(x), code_of(x))

    def resolve_and_use(x: int) -> None:
        with transaction.atomic():
            unit = actions.take_trace_code(inst_of(x), code_of(x))
            actions.record_use(actor, unit, usage_id=None)

    def use_in_open_tx(x: int) -> None:
        unit = actions.take_trace_code(inst_of(x), code_of(x))
        actions.record_use(actor, unit, usage_id=None)

    def in_usage_transaction(items: list[int]) -> list[int]:
        """The marginal cost inside the clinical usage's own transaction: timed from resolve to the lot's
        cached total; BEGIN and COMMIT (paid by the usage anyway) stay outside the timer."""
        clock = time.perf_counter_ns
        out = []
        for x in items:
            with transaction.atomic():
                t0 = clock()
                unit = actions.take_trace_code(inst_of(x), code_of(x))
                actions.record_use(actor, unit, usage_id=None)
                out.append(clock() - t0)
        return out

    half_use = len(use) // 2
    use, in_tx = use[:half_use], use[half_use:]
    ops = [
        ("lookup", lookup, look),
        ("lookup_compiled", lookup_compiled, look_compiled),
        ("resolve", resolve_only, resolve),
        ("resolve_use", resolve_and_use, use),
    ]
    for _name, fn, items in ops:  # warm-up: statement caches, the audit chain head, the rule packs
        for x in items[:50]:
            fn(x)
    queries: dict[str, Counter[int]] = {}
    for name, fn, items in ops:
        counts, _ = common.count_queries(items[50:100], fn, lambda _x: None)
        queries[name] = counts
    common.settle()
    ns: dict[str, list[int]] = {name: [] for name, _fn, _items in ops}
    half = args.samples // 2
    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        in_usage_transaction(in_tx[50:100])
        prof.disable()
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    ns["resolve_use_in_tx"] = []
    in_usage_transaction(in_tx[:50])
    for part in (slice(100, 100 + half), slice(100 + half, 100 + args.samples)):
        for name, fn, items in ops:
            ns[name] += common.timed(items[part], fn)
        ns["resolve_use_in_tx"] += in_usage_transaction(in_tx[part])
    # The marginal statements: counted inside one open transaction, so BEGIN/COMMIT (the usage's) are not.
    with transaction.atomic():
        queries["resolve_use_in_tx"], _ = common.count_queries(counted, use_in_open_tx, lambda _x: None)
    return {k: Timing.of(v) for k, v in ns.items()}, queries


def build_rows(t: dict[str, Timing], q: dict[str, Counter]) -> tuple[list[Row], dict[str, bool]]:
    base = t["lookup"].p50
    rows = [
        Row(
            "baseline: trace code point lookup (unique index), ORM .first() p50",
            us(base),
            "",
            "",
            "",
            "baseline",
        )
    ]
    verdicts: dict[str, bool] = {}
    compiled = t["lookup_compiled"].p50
    rows.append(
        Row(
            "second baseline: the same lookup compiled once (FixedQuery, as the resolve is) p50",
            us(compiled),
            f"lookup {us(base)}",
            f"{compiled / base:.2f}×",
            "",
            "info",
        )
    )
    labels = {
        "resolve": "resolve a scanned code (locked indexed look-up, in a transaction)",
        "resolve_use": "resolve + record its use in its own transaction (committed)",
        "resolve_use_in_tx": "resolve + record its use inside the usage transaction (marginal cost)",
    }
    for key, label in labels.items():
        ratio = t[key].p50 / base
        qn = "/".join(str(k) for k in sorted(q[key]))
        # The target applies to the marginal row: a scan's commit is the usage's commit (one per usage, whether
        # a code was scanned or not); the committed row is shown for what a stand-alone use would cost.
        if key == "resolve_use_in_tx":
            verdicts[key] = ratio <= TARGET_RATIO
            rows.append(
                Row(f"{label} p50 [{qn} q]", us(t[key].p50), f"lookup {us(base)}", f"{ratio:.2f}×",
                    f"≤ {TARGET_RATIO:.0f}×", verdict(verdicts[key]))
            )  # fmt: skip
        else:
            rows.append(
                Row(
                    f"{label} p50 [{qn} q]", us(t[key].p50), f"lookup {us(base)}", f"{ratio:.2f}×", "", "info"
                )
            )
    marginal = t["resolve_use_in_tx"].p50
    rows.append(
        Row(
            "marginal resolve + use against the compiled lookup p50",
            us(marginal),
            f"compiled {us(compiled)}",
            f"{marginal / compiled:.2f}×",
            "",
            "info",
        )
    )
    for key in ("lookup", "lookup_compiled", *labels):
        rows.append(Row(f"  {key} p99", us(t[key].p99), "", "", "", "info"))
    return rows, verdicts


def run(args: argparse.Namespace, db: Any) -> dict[str, Any]:
    from django.db import connection
    from django.db.backends.signals import connection_created

    connection_created.connect(common.sqlite_pragmas, dispatch_uid="bench-sqlite-pragmas")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    common.setup_database(db)
    timings["migrate_s"] = time.perf_counter() - t0
    log(f"migrated in {timings['migrate_s']:.1f} s ({db.description})")
    rows: Counter[str] = Counter()
    t0 = time.perf_counter()
    common.generation_pragmas(db, fast=True)
    world = generate(args, rows)
    if db.engine == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    common.generation_pragmas(db, fast=False)
    timings["generate_s"] = time.perf_counter() - t0
    log(f"generated {sum(rows.values()):,} rows in {timings['generate_s']:.0f} s; measuring")
    t, q = measure(args, world)
    table, verdicts = build_rows(t, q)
    return {
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": common.machine_info(db.engine),
        "database": db.description,
        "rows_generated": dict(rows),
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "results": {k: v.as_dict() for k, v in t.items()},
        "queries": {k: dict(v) for k, v in q.items()},
        "load_average": round(os.getloadavg()[0], 2),
        "verdicts": {k: verdict(v) for k, v in verdicts.items()},
        "_rows": table,
    }


def print_report(result: dict[str, Any], as_json: bool) -> None:
    r = result["rows_generated"]
    common.report_table(
        result,
        as_json,
        "inventory",
        f"{r.get('TraceCode', 0):,} received trace codes over {r.get('Lot', 0):,} lots at "
        f"{r.get('Institution', 0):,} institutions; generated in {result['timings']['generate_s']:.0f} s; "
        f"seed {result['args']['seed']}; 1-min load after measuring {result['load_average']}",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return common.run_bench(args, run, print_report)


if __name__ == "__main__":
    sys.exit(main())
