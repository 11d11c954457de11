#!/usr/bin/env python
"""Benchmark of the treatment case's look-ups at 1,000,000 clients and 5,000,000 usage rows.

Generates (seeded, bulk inserts) institutions with a Zipf-skewed number of clients each, half of the clients
treated once (a case and its operation record) with ten usages each (product lots, some devices), then times
the searches a front desk and a recall make — client by name prefix, by phone, by ID number (blind index),
"clients of lot X" and "what went into client Y" — each through the real ``clinical.queries`` functions and
beside a single indexed point lookup measured in the same run. Target: each within 2× of the lookup (p50).
See docs/benchmarks.md, "Clinical".

    .venv/bin/python bench/clinical.py            # full run: 1,000,000 clients, 5,000,000 usages
    .venv/bin/python bench/clinical.py --quick    # smoke run: 100,000 clients, 500,000 usages
    .venv/bin/python bench/clinical.py --database-url postgres://postgres@127.0.0.1:5432/clinical_bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import sys
import time
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import decide as common
from decide import Row, Timing, log, us, verdict

TARGET_RATIO = 2.0
PAGE = 20  # rows of a look-back list fetched per request (the first page)
USAGES_PER_LOT = 50  # a lot is used on about this many occasions
DEVICE_SHARE = 0.1  # usages that are a device, not a lot
# Fernet key used only by this bench (urlsafe base64 of 32 bytes; client ID numbers are encrypted at rest).
BENCH_FIELD_KEY = "Y2xpbmljYWwtYmVuY2gtb25seS1ub3QtYS1zZWNyZXQ="

SURNAMES = (
    ("王", 72), ("李", 72), ("张", 70), ("刘", 55), ("陈", 45), ("杨", 31), ("黄", 23), ("赵", 22),
    ("吴", 21), ("周", 20), ("徐", 15), ("孙", 15), ("马", 12), ("朱", 12), ("胡", 11), ("郭", 11),
    ("何", 10), ("林", 10), ("高", 10), ("罗", 9), ("郑", 9), ("梁", 8), ("谢", 7), ("宋", 6),
    ("唐", 6), ("许", 6), ("韩", 6), ("冯", 6), ("邓", 6), ("曹", 5), ("彭", 5), ("曾", 5),
    ("肖", 5), ("田", 5), ("董", 5), ("袁", 5), ("潘", 4), ("于", 4), ("蒋", 4), ("蔡", 4),
    ("余", 4), ("杜", 4), ("叶", 4), ("程", 4), ("苏", 4), ("魏", 4), ("吕", 4), ("丁", 4),
    ("任", 4), ("沈", 4), ("欧阳", 1), ("司马", 1), ("上官", 1),
)  # fmt: skip
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红兰建文辉力燕琳鑫晨雪梅"
    "婷雅欣怡佳思悦蕾璐颖倩晶莹宇浩然子轩博涵梓睿诗琪嘉一宁安心如月云晓春秋冬夏"
)
REGIONS = ("110101", "310104", "440305", "430102", "330106", "510107", "320102", "420106")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: 100,000 clients, 500,000 usages")
    p.add_argument("--clients", type=int, help="clients (default 1,000,000; --quick 100,000)")
    p.add_argument("--usages", type=int, help="usage rows (default 5,000,000; --quick 500,000)")
    p.add_argument("--institutions", type=int, help="institutions (default 2,000; --quick 200)")
    p.add_argument("--samples", type=int, help="timed requests per measurement (default 2,000; --quick 500)")
    p.add_argument("--seed", type=int, default=20260312)
    p.add_argument(
        "--institution-zipf", type=float, default=0.7, help="Zipf exponent of clients over institutions"
    )
    common.database_args(p, "clinical_bench")
    args = p.parse_args(argv)
    quick = args.quick
    defaults = {
        "clients": 100_000 if quick else 1_000_000,
        "usages": 500_000 if quick else 5_000_000,
        "institutions": 200 if quick else 2_000,
        "samples": 500 if quick else 2_000,
    }
    common.fill_defaults(args, defaults)
    if args.institutions < 1 or args.clients < args.institutions * 2:
        p.error("need at least two clients per institution")
    if args.usages < 10:
        p.error("--usages must be at least 10")
    return args


# ---- generated data -------------------------------------------------------------------------------


@dataclass
class World:
    """Ordinal → primary key arrays (compact: no model instances kept)."""

    inst_id: array = field(default_factory=lambda: array("q"))
    inst_org: array = field(default_factory=lambda: array("q"))
    inst_operator: array = field(default_factory=lambda: array("q"))
    inst_device: array = field(default_factory=lambda: array("q"))
    inst_lots: list[array] = field(default_factory=list)
    client_id: array = field(default_factory=lambda: array("q"))
    client_inst: array = field(default_factory=lambda: array("l"))
    client_name: list[str] = field(default_factory=list)
    treated: array = field(default_factory=lambda: array("l"))  # ordinals of clients with usages
    lot_ids: array = field(default_factory=lambda: array("q"))
    lot_inst: array = field(default_factory=lambda: array("l"))
    rows: Counter[str] = field(default_factory=Counter)
    user_id: int | None = None


def phone_of(i: int) -> str:
    """Unique, scattered mobile numbers (a bijection of the ordinal modulo 10^8)."""
    return f"13{(i * 7919 + 12_345_678) % 100_000_000:08d}" + str(i % 10)


def id_number_of(i: int) -> str:
    """A well-formed resident ID (region, birth date, sequence, ISO 7064 check digit), unique per ordinal."""
    born = dt.date(1970, 1, 1) + dt.timedelta(days=i // 1000)
    body = f"{REGIONS[i % len(REGIONS)]}{born:%Y%m%d}{i % 1000:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    return body + check


def bulk(model: Any, objs: list[Any], w: World) -> list[Any]:
    created = model.objects.bulk_create(objs, batch_size=5_000)
    w.rows[model.__name__] += len(objs)
    return created


def create_institutions(w: World, n: int, clients: int, usages: int, rng: random.Random) -> dict[str, Any]:
    from django.db import transaction

    from meiguard.core.choices import OrganizationKind
    from meiguard.core.models import Organization
    from meiguard.registry.crypto import blind_index
    from meiguard.registry.models import (
        Device,
        DistributionAuthorization,
        Institution,
        Lot,
        Practitioner,
        Product,
        Supplier,
    )

    past, far = dt.date(2020, 1, 1), dt.date(2030, 12, 31)
    with transaction.atomic():
        sorg = Organization.objects.create(name="华东医药供应链", kind=OrganizationKind.SUPPLIER)
        supplier = Supplier.objects.create(
            organization=sorg,
            name="华东医药供应链",
            credit_code="91330100MA2B00001X",
            business_licence_no="91330100MA2B00001X",
            business_licence_valid_from=past,
        )
        DistributionAuthorization.objects.create(
            supplier=supplier, brand="润百颜", registrant="华熙生物", valid_from=past, valid_until=far
        )
        common_p = {
            "supplier": supplier,
            "registration_valid_until": far,
            "kind": "device",
            "risk_class": "III",
        }
        filler = Product.objects.create(
            generic_name="注射用修饰透明质酸钠凝胶",
            brand_name="润百颜",
            registration_no="国械注准20193130001",
            registrant="华熙生物",
            high_risk=True,
            category="hyaluronic_acid",
            dose_unit="ml",
            **common_p,
        )
        rf = Product.objects.create(
            generic_name="射频治疗仪",
            brand_name="热玛吉-FLX",
            registration_no="国械注进20173091234",
            registrant="Solta",
            category="energy_device",
            dose_unit="shot",
            **common_p,
        )
        orgs = bulk(
            Organization,
            [Organization(name=f"医美机构{i:05d}", kind=OrganizationKind.INSTITUTION) for i in range(n)],
            w,
        )
        insts = bulk(
            Institution,
            [
                Institution(
                    organization_id=org.pk,
                    name=f"医美机构{i:05d}",
                    credit_code=f"91{i:016d}",
                    licence_no=f"PDY{i:08d}43010217D1001",
                    institution_type="aesthetic_outpatient_dept",
                    has_anesthesiology=True,
                    subjects=["cosmetic_dermatology", "cosmetic_surgery"],
                    licence_valid_from=past,
                    licence_valid_until=far,
                    verification_cycle_years=1,
                    next_verification_due=far,
                    province="湖南",
                    city="长沙",
                )
                for i, org in enumerate(orgs)
            ],
            w,
        )
        doctors = bulk(
            Practitioner,
            [
                Practitioner(
                    name=f"医师{i:05d}",
                    id_number=f"43010219800101{i:04d}",
                    id_number_index=blind_index(f"prac:{i}"),
                    profession="doctor",
                    main_institution_id=inst.pk,
                    status="active",
                )
                for i, inst in enumerate(insts)
            ],
            w,
        )
        devices = bulk(
            Device,
            [
                Device(
                    product_id=rf.pk,
                    serial_no=f"RF-{i:06d}",
                    institution_id=inst.pk,
                    last_inspection_on=past,
                    inspection_interval_days=365,
                    next_inspection_due=far,
                    last_calibration_on=past,
                    calibration_interval_days=365,
                    next_calibration_due=far,
                )
                for i, inst in enumerate(insts)
            ],
            w,
        )
    for inst, org, doc, dev in zip(insts, orgs, doctors, devices, strict=True):
        w.inst_id.append(inst.pk)
        w.inst_org.append(org.pk)
        w.inst_operator.append(doc.pk)
        w.inst_device.append(dev.pk)
    return {"filler": filler, "lot_model": Lot}


def create_clients(w: World, n: int, zipf_s: float, rng: random.Random) -> None:
    """Clients, assigned to institutions Zipf-skewed; names by surname frequency."""
    from django.db import transaction

    from meiguard.clinical.models import Client
    from meiguard.registry.crypto import blind_index

    sampler = common.ZipfSampler(rng, len(w.inst_id), zipf_s)
    owners = sampler.sample(n)
    # Every institution has at least one client: the first ones go round-robin.
    for k in range(min(n, len(w.inst_id))):
        owners[k] = k
    names, weights = zip(*SURNAMES, strict=True)
    batch = 20_000
    for start in range(0, n, batch):
        stop = min(n, start + batch)
        surnames = rng.choices(names, weights=weights, k=stop - start)
        objs = []
        for i, surname in zip(range(start, stop), surnames, strict=True):
            name = surname + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
            number = id_number_of(i)
            objs.append(
                Client(
                    institution_id=w.inst_id[owners[i]],
                    name=name,
                    sex=rng.choice(("female", "female", "female", "male")),
                    date_of_birth=dt.date(1990, 1, 1),
                    phone=phone_of(i),
                    document_type="resident_id",
                    id_number=number,
                    id_number_index=blind_index(f"resident_id:{number}"),
                )
            )
            w.client_inst.append(owners[i])
            w.client_name.append(name)
        with transaction.atomic():
            created = bulk(Client, objs, w)
        w.client_id.extend(c.pk for c in created)
        if stop % 200_000 == 0 or stop == n:
            log(f"  {stop:,} clients")


def create_usages(w: World, total: int, rng: random.Random, refs: dict[str, Any], decision_id: int) -> None:
    """Half the clients treated once: a case, its record and ``total / treated`` usages each."""
    from django.db import transaction
    from django.utils import timezone

    from meiguard.clinical.models import Case, OperationRecord, Usage

    lot_model = refs["lot_model"]
    filler = refs["filler"]
    n_clients = len(w.client_id)
    treated = sorted(rng.sample(range(n_clients), max(1, min(n_clients, total // 10))))
    per = total // len(treated)
    extra = total - per * len(treated)
    # Lots: each institution as many as its usages need (about USAGES_PER_LOT uses each).
    need = Counter()
    for i in treated:
        need[w.client_inst[i]] += per
    lots = []
    lot_inst: list[int] = []
    for k in range(len(w.inst_id)):
        for j in range(max(1, math.ceil(need[k] * (1 - DEVICE_SHARE) / USAGES_PER_LOT))):
            lots.append(
                lot_model(
                    product_id=filler.pk,
                    lot_no=f"HA{k:05d}{j:05d}",
                    expiry_date=dt.date(2030, 12, 31),
                    quantity=Decimal(1000),
                    unit="piece",
                    institution_id=w.inst_id[k],
                )
            )
            lot_inst.append(k)
    with transaction.atomic():
        created = bulk(lot_model, lots, w)
    w.inst_lots = [array("q") for _ in w.inst_id]
    for lot, k in zip(created, lot_inst, strict=True):
        w.inst_lots[k].append(lot.pk)
        w.lot_ids.append(lot.pk)
        w.lot_inst.append(k)
    log(f"  {len(created):,} lots")
    now = timezone.now()
    batch = 5_000
    done = 0
    for start in range(0, len(treated), batch):
        chunk = treated[start : start + batch]
        with transaction.atomic():
            cases = bulk(
                Case,
                [
                    Case(
                        institution_id=w.inst_id[w.client_inst[i]],
                        client_id=w.client_id[i],
                        code=f"B{i:011d}",
                        procedure_code="derm-filler-injection",
                        procedure_name="注射填充",
                        invasiveness="injection",
                        operator_id=w.inst_operator[w.client_inst[i]],
                        status="closed",
                    )
                    for i in chunk
                ],
                w,
            )
            records = bulk(
                OperationRecord,
                [
                    OperationRecord(
                        case_id=c.pk,
                        decision_id=decision_id,
                        operator_id=c.operator_id,
                        status="closed",
                        opened_at=now,
                        closed_at=now,
                    )
                    for c in cases
                ],
                w,
            )
            usages = []
            for i, c, r in zip(chunk, cases, records, strict=True):
                k = w.client_inst[i]
                count = per + (1 if extra > 0 else 0)
                for u in range(count):
                    device = rng.random() < DEVICE_SHARE
                    usages.append(
                        Usage(
                            record_id=r.pk,
                            case_id=c.pk,
                            client_id=c.client_id,
                            institution_id=c.institution_id,
                            usage_key=f"k{u}",
                            lot_id=None if device else rng.choice(w.inst_lots[k]),
                            device_id=w.inst_device[k] if device else None,
                            dose_value=None if device else Decimal("1.0"),
                            dose_unit="" if device else "ml",
                            decision_id=decision_id,
                        )
                    )
                extra -= 1 if extra > 0 else 0
            bulk(Usage, usages, w)
        done += len(usages)
        w.treated.extend(chunk)
        if (start // batch) % 20 == 0:
            log(f"  {done:,} usages")
    log(f"  {done:,} usages")


def first_decision(w: World) -> int:
    """One real engine decision: every generated record and usage points at it (the FK is required)."""
    from meiguard.authz import actions as authz
    from meiguard.authz.choices import DecisionChannel
    from meiguard.core.access import Actor

    req = authz.as_request(
        institution_id=w.inst_id[0],
        practitioner_id=w.inst_operator[0],
        procedure_code="derm-filler-injection",
    )
    return authz.check(Actor.system("bench"), req, channel=DecisionChannel.API).log.pk


# ---- measurements ------------------------------------------------------------------------------------


def actor_for(w: World, inst: int) -> Any:
    from meiguard.core.access import Actor

    return Actor(user_id=w.user_id, username="bench", roles_by_org={w.inst_org[inst]: frozenset({"doctor"})})


def measure(w: World, args: argparse.Namespace) -> tuple[dict[str, Timing], dict[str, Counter[int]], Counter]:
    from meiguard.clinical import queries
    from meiguard.clinical.models import Client

    rng = random.Random(args.seed + 1)
    n = args.samples
    picks = [rng.randrange(len(w.client_id)) for _ in range(n)]
    treated = [w.treated[rng.randrange(len(w.treated))] for _ in range(n)]
    lots = [rng.randrange(len(w.lot_ids)) for _ in range(n)]
    found: Counter[str] = Counter()

    def name_prefix(i: int) -> Any:
        k = w.client_inst[i]
        rows = queries.search_clients(actor_for(w, k), w.inst_id[k], w.client_name[i][:2])
        found["name_rows"] += len(rows)
        return rows

    def phone(i: int) -> Any:
        k = w.client_inst[i]
        rows = queries.search_clients(actor_for(w, k), w.inst_id[k], phone_of(i))
        found["phone_hits"] += len(rows) == 1 and rows[0].pk == w.client_id[i]
        return rows

    def id_number(i: int) -> Any:
        k = w.client_inst[i]
        rows = queries.search_clients(actor_for(w, k), w.inst_id[k], id_number_of(i))
        found["id_hits"] += len(rows) == 1 and rows[0].pk == w.client_id[i]
        return rows

    def lot_clients(j: int) -> Any:
        rows = queries.clients_of_lot(actor_for(w, w.lot_inst[j]), w.lot_ids[j], limit=PAGE)
        found["lot_rows"] += len(rows)
        return rows

    def client_usages(i: int) -> Any:
        rows = queries.usages_of_client(actor_for(w, w.client_inst[i]), w.client_id[i], limit=PAGE)
        found["client_rows"] += len(rows)
        return rows

    def lookup(i: int) -> Any:
        return Client.objects.filter(pk=w.client_id[i]).first()

    ops: list[tuple[str, Callable[[int], Any], list[int]]] = [
        ("lookup", lookup, picks),
        ("name_prefix", name_prefix, picks),
        ("phone", phone, picks),
        ("id_number", id_number, picks),
        ("lot_clients", lot_clients, lots),
        ("client_usages", client_usages, treated),
    ]
    # Warm-up (caches, statement preparation), then two interleaved halves so drift hits every op alike.
    for _name, fn, items in ops:
        for item in items[:50]:
            fn(item)
    queries_seen: dict[str, Counter[int]] = {}
    for name, fn, items in ops:
        counts, _ = common.count_queries(items[:100], fn, lambda _x: None)
        queries_seen[name] = counts
    found.clear()
    ns: dict[str, list[int]] = {name: [] for name, _fn, _items in ops}
    half = n // 2
    for part in (slice(0, half), slice(half, n)):
        for name, fn, items in ops:
            ns[name] += common.timed(items[part], fn)
    return {k: Timing.of(v) for k, v in ns.items()}, queries_seen, found


def build_rows(
    t: dict[str, Timing], q: dict[str, Counter[int]], found: Counter, n: int
) -> tuple[list[Row], dict]:
    base = t["lookup"].p50
    rows = [Row("baseline: Client point lookup by pk, ORM .first() p50", us(base), "", "", "baseline")]
    verdicts: dict[str, bool] = {}
    labels = {
        "name_prefix": f"client search by name prefix (2 chars; {found['name_rows'] / n:.1f} rows avg)",
        "phone": f"client search by phone (exact; {found['phone_hits']}/{n} found)",
        "id_number": f"client search by ID number (blind index; {found['id_hits']}/{n} found)",
        "lot_clients": f"clients of lot X, first {PAGE} ({found['lot_rows'] / n:.1f} rows avg)",
        "client_usages": f"what went into client Y, first {PAGE} ({found['client_rows'] / n:.1f} rows avg)",
    }
    for key, label in labels.items():
        ratio = t[key].p50 / base
        verdicts[key] = ratio <= TARGET_RATIO
        qn = "/".join(str(k) for k in sorted(q[key]))
        rows.append(
            Row(
                f"{label} p50 [{qn} q]",
                us(t[key].p50),
                f"lookup {us(base)}",
                f"{ratio:.2f}×",
                f"≤ {TARGET_RATIO:.0f}×",
                verdict(verdicts[key]),
            )
        )
    for key in ("lookup", *labels):
        rows.append(Row(f"  {key} p99", us(t[key].p99), "", "", "info"))
    return rows, verdicts


def run(args: argparse.Namespace, db: Any) -> dict[str, Any]:
    from django.db import connection
    from django.db.backends.signals import connection_created

    connection_created.connect(common.sqlite_pragmas, dispatch_uid="bench-sqlite-pragmas")
    rng = random.Random(args.seed)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    user_id, _token = common.setup_database(db)
    timings["migrate_s"] = time.perf_counter() - t0
    log(f"migrated in {timings['migrate_s']:.1f} s ({db.description})")
    w = World(user_id=user_id)
    t0 = time.perf_counter()
    common.generation_pragmas(db, fast=True)
    refs = create_institutions(w, args.institutions, args.clients, args.usages, rng)
    decision_id = first_decision(w)
    log(f"generating {args.clients:,} clients over {args.institutions:,} institutions")
    create_clients(w, args.clients, args.institution_zipf, rng)
    log(f"generating {args.usages:,} usages")
    create_usages(w, args.usages, rng, refs, decision_id)
    if db.engine == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    common.generation_pragmas(db, fast=False)
    timings["generate_s"] = time.perf_counter() - t0
    log(f"generated {sum(w.rows.values()):,} rows in {timings['generate_s']:.0f} s; measuring")
    t, q, found = measure(w, args)
    rows, verdicts = build_rows(t, q, found, args.samples)
    sizes = Counter(w.client_inst)
    return {
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": common.machine_info(db.engine),
        "database": db.description,
        "rows_generated": dict(w.rows),
        "largest_institution_clients": max(sizes.values()),
        "median_institution_clients": sorted(sizes.values())[len(sizes) // 2],
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "results": {k: v.as_dict() for k, v in t.items()},
        "queries": {k: dict(v) for k, v in q.items()},
        "load_average": round(os.getloadavg()[0], 2),
        "verdicts": {k: verdict(v) for k, v in verdicts.items()},
        "_rows": rows,
    }


def print_report(result: dict[str, Any], as_json: bool) -> None:
    r = result["rows_generated"]
    common.report_table(
        result,
        as_json,
        "clinical",
        f"{r.get('Client', 0):,} clients, {r.get('Usage', 0):,} usages, {r.get('Case', 0):,} cases, "
        f"{r.get('Lot', 0):,} lots, {r.get('Institution', 0):,} institutions (largest "
        f"{result['largest_institution_clients']:,} clients, median {result['median_institution_clients']:,}); "
        f"rows {sum(r.values()):,} in {result['timings']['generate_s']:.0f} s; seed {result['args']['seed']}; "
        f"1-min load after measuring {result['load_average']}",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("FIELD_ENCRYPTION_KEY", BENCH_FIELD_KEY)
    return common.run_bench(args, run, print_report)


if __name__ == "__main__":
    sys.exit(main())
