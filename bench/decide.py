#!/usr/bin/env python
"""Benchmark of the decision engine: pure ``decide()``, the database-backed ``check()``, and HTTP.

One run generates a registry (seeded), measures at a small size, grows the same database to the full size
(default 1,000,000 practitioners across 100,000 institutions) and measures again, then serves the real WSGI
application on 127.0.0.1 and compares POST /api/v1/decisions with GET /api/v1/me. Every figure is printed
beside a baseline measured in the same run. See docs/benchmarks.md.

    .venv/bin/python bench/decide.py            # full run (several minutes)
    .venv/bin/python bench/decide.py --quick    # smoke run: 1,000 then 10,000 practitioners
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import http.client
import itertools
import json
import os
import platform
import random
import shutil
import socket
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]

AT_ISO = "2026-03-03T10:00:00+08:00"
PAST = dt.date(2020, 1, 1)
FAR = dt.date(2030, 12, 31)
DEVICE_CHECKED = dt.date(2026, 1, 5)
BENCH_FIELD_KEY = "YmVuY2gtb25seS1maWVsZC1rZXktbm90LWEtc2VjcmV0IT0="  # Fernet key used only by the bench

# Provinces of the generated institutions; 北京 has a provincial overlay pack, the others use the national.
PROVINCES = (("湖南", 30), ("广东", 25), ("上海", 15), ("浙江", 10), ("北京", 10), ("四川", 10))

# Request shapes (weights): procedure, which lots, whether the institution's RF device is used.
SHAPES = (
    ("derm-botulinum-toxin-injection", "toxin", True, 35),  # the widest request: 9 loader queries
    ("derm-botulinum-toxin-injection", "toxin", False, 25),
    ("derm-filler-injection", "filler", False, 15),
    ("derm-radiofrequency", "", True, 15),
    ("derm-chemical-peel", "", False, 10),
)

TARGETS = {
    "engine_p50_us": 50.0,
    "cold_queries": 10,
    "cold_vs_lookup": 20.0,
    "p99_growth": 1.5,
    "http_ratio": 0.60,
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---- options and environment --------------------------------------------------------------------


def database_args(p: argparse.ArgumentParser, example_name: str) -> None:
    """The options every bench shares: where the generated database goes, and how results are printed."""
    p.add_argument("--db", type=Path, help="SQLite file to create (default: a temporary directory)")
    p.add_argument(
        "--database-url",
        help=f"postgres://user@host:port/{example_name} (the database is dropped, re-created)",
    )
    p.add_argument("--keep", action="store_true", help="keep the generated database afterwards")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout")


def fill_defaults(args: argparse.Namespace, defaults: dict[str, Any]) -> None:
    """Options left unset take the size's default (``--quick`` or full)."""
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: 1,000 then 10,000 practitioners")
    p.add_argument("--practitioners", type=int, help="full size (default 1,000,000; --quick 10,000)")
    p.add_argument("--institutions", type=int, help="full size (default 100,000; --quick 1,000)")
    p.add_argument("--small-practitioners", type=int, help="first size (default 10,000; --quick 1,000)")
    p.add_argument("--small-institutions", type=int, help="first size (default 1,000; --quick 100)")
    p.add_argument("--samples", type=int, help="timed requests per DB measurement (default 2,000)")
    p.add_argument("--engine-iterations", type=int, help="timed decide() calls (default 20,000)")
    p.add_argument("--http-requests", type=int, help="timed HTTP requests per endpoint (default 2,000)")
    p.add_argument(
        "--http-warmup", type=int, help="Zipf requests that fill the snapshot cache first (default 10,000)"
    )
    p.add_argument("--seed", type=int, default=20260303)
    p.add_argument("--zipf", type=float, default=1.1, help="Zipf exponent of requests over practitioners")
    p.add_argument(
        "--institution-zipf", type=float, default=0.7, help="Zipf exponent of practitioners over institutions"
    )
    p.add_argument("--authorized-share", type=float, default=0.2, help="practitioners with authorizations")
    database_args(p, "meiguard_bench")
    args = p.parse_args(argv)
    quick = args.quick
    defaults = {
        "practitioners": 10_000 if quick else 1_000_000,
        "institutions": 1_000 if quick else 100_000,
        "small_practitioners": 1_000 if quick else 10_000,
        "small_institutions": 100 if quick else 1_000,
        "samples": 500 if quick else 2_000,
        "engine_iterations": 5_000 if quick else 20_000,
        "http_requests": 500 if quick else 2_000,
        "http_warmup": 1_000 if quick else 10_000,
    }
    fill_defaults(args, defaults)
    if not (0 < args.small_practitioners <= args.practitioners):
        p.error("--small-practitioners must be between 1 and --practitioners")
    if not (0 < args.small_institutions <= args.institutions):
        p.error("--small-institutions must be between 1 and --institutions")
    if args.small_institutions > args.small_practitioners or args.institutions > args.practitioners:
        p.error("need at least one practitioner per institution")
    return args


@dataclass
class Database:
    description: str
    cleanup: Callable[[], None]
    engine: str


def prepare_database(args: argparse.Namespace) -> Database:
    """Create an empty database for the run and point DATABASE_URL at it (before Django starts)."""
    if args.database_url:
        url = args.database_url
        parts = urlsplit(url)
        name = parts.path.lstrip("/")
        if not name or name in ("postgres", "template0", "template1"):
            raise SystemExit("--database-url must name a dedicated database, e.g. .../meiguard_bench")
        import psycopg
        from psycopg import sql

        admin_url = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

        def drop() -> None:
            from django.db import connections

            connections.close_all()
            if args.keep:
                return
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

        os.environ["DATABASE_URL"] = url
        safe = urlunsplit(parts._replace(netloc=parts.hostname or "", query=""))
        return Database(f"PostgreSQL {safe}", drop, "postgresql")

    if args.db:
        path = args.db.resolve()
        if path.exists():
            raise SystemExit(
                f"{path} exists; the bench creates its own database (remove it or choose another)"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmpdir: Path | None = None
    else:
        tmpdir = Path(tempfile.mkdtemp(prefix="meiguard-bench-"))
        path = tmpdir / "bench.sqlite3"

    def remove() -> None:
        from django.db import connections

        connections.close_all()
        if args.keep:
            log(f"kept {path}")
            return
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

    os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    return Database(f"SQLite {path}", remove, "sqlite")


def configure_environment() -> None:
    """Production-like settings: DEBUG off (no query log), persistent connections, fast test hasher."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "meiguard.settings"
    os.environ["MEIGUARD_TESTING"] = "1"
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
    os.environ.setdefault("FIELD_ENCRYPTION_KEY", BENCH_FIELD_KEY)
    os.environ.setdefault("AUDIT_KEY", "bench-only-audit-key-not-a-secret-" + "y" * 16)
    # The rate limiter runs on every API call (its cost is measured) but never trips: the bench is one client.
    os.environ.setdefault("RATE_LIMIT_API_CALLS", "1000000000/60")
    os.environ.setdefault("RATE_LIMIT_API_COST", "1000000000/60")
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    os.environ["SECURE_COOKIES"] = "false"
    os.environ.setdefault("DB_CONN_MAX_AGE", "600")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def sqlite_pragmas(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Every SQLite connection of the run (main thread and server threads) uses WAL with synchronous=NORMAL."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")


# ---- statistics -------------------------------------------------------------------------------------


def pct(sorted_ns: Sequence[int], q: float) -> float:
    """Nearest-rank percentile, in µs."""
    if not sorted_ns:
        return float("nan")
    rank = max(1, min(len(sorted_ns), int(-(-q * len(sorted_ns) // 1))))
    return sorted_ns[rank - 1] / 1000.0


@dataclass
class Timing:
    n: int
    p50: float
    p99: float
    mean: float

    @classmethod
    def of(cls, ns: list[int]) -> Timing:
        s = sorted(ns)
        return cls(len(s), pct(s, 0.50), pct(s, 0.99), sum(s) / len(s) / 1000.0)

    def as_dict(self) -> dict[str, float]:
        return {
            "n": self.n,
            "p50_us": round(self.p50, 2),
            "p99_us": round(self.p99, 2),
            "mean_us": round(self.mean, 2),
        }


def timed(
    items: Iterable[Any], fn: Callable[[Any], Any], before: Callable[[Any], Any] | None = None
) -> list[int]:
    """perf_counter_ns around ``fn(item)`` for each item; ``before(item)`` runs outside the timed region.

    The objects alive before the loop (the bench's own registry of generated ids, millions at full size) are
    frozen out of the garbage collector's scans (``gc.freeze``): a server does not carry them, and scanning them
    would put the bench's own heap into the product's tail latencies. What the product allocates while timed is
    collected as usual."""
    clock = time.perf_counter_ns
    out: list[int] = []
    gc.collect()
    gc.freeze()
    try:
        for item in items:
            if before is not None:
                before(item)
            t0 = clock()
            fn(item)
            out.append(clock() - t0)
    finally:
        gc.unfreeze()
    return out


class ZipfSampler:
    """Ranks 1..n with P(k) ∝ 1/k**s, mapped to items through a seeded random permutation."""

    def __init__(self, rng: random.Random, n: int, s: float) -> None:
        self.rng = rng
        self.cum = array("d", itertools.accumulate(k**-s for k in range(1, n + 1)))  # not GC-tracked
        self.perm = array("l", range(n))
        rng.shuffle(self.perm)  # type: ignore[arg-type]
        self.ranks = range(n)

    def sample(self, k: int) -> list[int]:
        perm = self.perm
        return [perm[r] for r in self.rng.choices(self.ranks, cum_weights=self.cum, k=k)]


# ---- the generated registry ------------------------------------------------------------------------


@dataclass
class Catalog:
    toxin_id: int
    filler_id: int
    rf_id: int


@dataclass
class Registry:
    """Ordinal → primary key arrays for what was generated (compact: no model instances are kept)."""

    inst_id: array = field(default_factory=lambda: array("q"))
    inst_org: array = field(default_factory=lambda: array("q"))
    inst_province: list[str] = field(default_factory=list)
    toxin_lot: array = field(default_factory=lambda: array("q"))
    filler_lot: array = field(default_factory=lambda: array("q"))
    device: array = field(default_factory=lambda: array("q"))
    prac_id: array = field(default_factory=lambda: array("q"))
    prac_inst: array = field(default_factory=lambda: array("l"))  # ordinal of the main institution
    sites: dict[int, int] = field(default_factory=dict)  # practitioner ordinal -> site institution ordinal
    rows: Counter[str] = field(default_factory=Counter)

    @property
    def practitioners(self) -> int:
        return len(self.prac_id)

    @property
    def institutions(self) -> int:
        return len(self.inst_id)


def bulk(model: Any, objs: list[Any], reg: Registry) -> list[Any]:
    created = model.objects.bulk_create(objs, batch_size=2_000)
    reg.rows[model.__name__] += len(objs)
    return created


def create_catalog(reg: Registry) -> Catalog:
    from meiguard.core.choices import OrganizationKind
    from meiguard.core.models import Organization
    from meiguard.registry.models import DistributionAuthorization, Product, Supplier

    org = Organization.objects.create(name="华东医药供应链", kind=OrganizationKind.SUPPLIER)
    supplier = Supplier.objects.create(
        organization=org,
        name="华东医药供应链",
        credit_code="91330100MA2B00001X",
        business_licence_no="91330100MA2B00001X",
        business_licence_valid_from=PAST,
    )
    for brand, registrant in (
        ("衡力", "兰州生物制品研究所"),
        ("润百颜", "华熙生物"),
        ("热玛吉-FLX", "Solta"),
    ):
        DistributionAuthorization.objects.create(
            supplier=supplier, brand=brand, registrant=registrant, valid_from=PAST, valid_until=FAR
        )
    common = {"supplier": supplier, "registration_valid_until": FAR}
    toxin = Product.objects.create(
        generic_name="注射用A型肉毒毒素",
        brand_name="衡力",
        kind="drug",
        registration_no="国药准字S10970037",
        registrant="兰州生物制品研究所",
        high_risk=True,
        category="botulinum_toxin_a",
        dose_unit="U",
        **common,
    )
    filler = Product.objects.create(
        generic_name="注射用修饰透明质酸钠凝胶",
        brand_name="润百颜",
        kind="device",
        registration_no="国械注准20193130001",
        registrant="华熙生物",
        risk_class="III",
        high_risk=True,
        category="hyaluronic_acid",
        dose_unit="ml",
        **common,
    )
    rf = Product.objects.create(
        generic_name="射频治疗仪",
        brand_name="热玛吉-FLX",
        kind="device",
        registration_no="国械注进20173091234",
        registrant="Solta",
        risk_class="III",
        category="energy_device",
        dose_unit="shot",
        **common,
    )
    reg.rows["catalog"] += 8
    return Catalog(toxin.pk, filler.pk, rf.pk)


def grow_institutions(
    reg: Registry, cat: Catalog, target: int, rng: random.Random, batch: int = 10_000
) -> None:
    """Organizations, institutions, and per institution a toxin lot, a filler lot and an RF device."""
    from django.db import transaction

    from meiguard.core.choices import OrganizationKind
    from meiguard.core.models import Organization
    from meiguard.registry.models import Device, Institution, Lot

    names, weights = zip(*PROVINCES, strict=True)
    while reg.institutions < target:
        start = reg.institutions
        n = min(batch, target - start)
        ordinals = range(start, start + n)
        provinces = rng.choices(names, weights=weights, k=n)
        with transaction.atomic():
            orgs = bulk(
                Organization,
                [
                    Organization(name=f"医美机构{i:06d}", kind=OrganizationKind.INSTITUTION, province=prov)
                    for i, prov in zip(ordinals, provinces, strict=True)
                ],
                reg,
            )
            insts = []
            for i, prov, org in zip(ordinals, provinces, orgs, strict=True):
                hospital = rng.random() < 0.1
                derm_only_surgery = not hospital and rng.random() < 0.05  # no 美容皮肤科: derm requests deny
                insts.append(
                    Institution(
                        organization_id=org.pk,
                        name=f"医美机构{i:06d}",
                        credit_code=f"91{i:016d}",
                        licence_no=f"PDY{i:08d}43010217D1001",
                        institution_type="cosmetic_hospital" if hospital else "aesthetic_outpatient_dept",
                        has_anesthesiology=True,
                        subjects=["cosmetic_surgery"]
                        if derm_only_surgery
                        else ["cosmetic_dermatology", "cosmetic_surgery"],
                        licence_valid_from=PAST,
                        licence_valid_until=FAR,
                        verification_cycle_years=1,
                        next_verification_due=FAR,
                        province=prov,
                        city="市区",
                    )
                )
            insts = bulk(Institution, insts, reg)
            lots = []
            for i, inst in zip(ordinals, insts, strict=True):
                for product_id, prefix in ((cat.toxin_id, "BT"), (cat.filler_id, "HA")):
                    lots.append(
                        Lot(
                            product_id=product_id,
                            lot_no=f"{prefix}{i:07d}",
                            expiry_date=FAR,
                            quantity=Decimal(100),
                            unit="piece",
                            institution_id=inst.pk,
                        )
                    )
            lots = bulk(Lot, lots, reg)
            devices = bulk(
                Device,
                [
                    Device(
                        product_id=cat.rf_id,
                        serial_no=f"RF-{i:07d}",
                        institution_id=inst.pk,
                        last_inspection_on=DEVICE_CHECKED,
                        inspection_interval_days=365,
                        next_inspection_due=DEVICE_CHECKED + dt.timedelta(days=365),
                        last_calibration_on=DEVICE_CHECKED,
                        calibration_interval_days=365,
                        next_calibration_due=DEVICE_CHECKED + dt.timedelta(days=365),
                    )
                    for i, inst in zip(ordinals, insts, strict=True)
                ],
                reg,
            )
            add_policies(insts, orgs, rng, reg)
        for k, (inst, org) in enumerate(zip(insts, orgs, strict=True)):
            reg.inst_id.append(inst.pk)
            reg.inst_org.append(org.pk)
            reg.toxin_lot.append(lots[2 * k].pk)
            reg.filler_lot.append(lots[2 * k + 1].pk)
            reg.device.append(devices[k].pk)
        reg.inst_province.extend(provinces)


# A share of institutions have their own policy (本机构规范, the third rule layer) instead of the template:
# a published version with the template's rules and a stricter botulinum limit (so some requests deny there).
POLICY_SHARE = float(os.environ.get("BENCH_POLICY_SHARE", "0.2"))
POLICY_TOXIN_LIMIT = 120


def add_policies(insts: list[Any], orgs: list[Any], rng: random.Random, reg: Registry) -> None:
    from meiguard.rules.choices import Jurisdiction, RuleLevel, VersionStatus
    from meiguard.rules.models import Rule, RulePack, RulePackVersion

    template = (
        RulePackVersion.objects.filter(pack__code="inst-template", status=VersionStatus.PUBLISHED)
        .order_by("-version")
        .first()
    )
    assert template is not None, "load the built-in packs first"
    rules = list(Rule.objects.filter(version=template).order_by("position"))
    chosen = [(inst, org) for inst, org in zip(insts, orgs, strict=True) if rng.random() < POLICY_SHARE]
    packs = bulk(
        RulePack,
        [
            RulePack(
                code=f"inst-{inst.pk}",
                name="本机构规范",
                name_en="Institution policy",
                jurisdiction=Jurisdiction.INSTITUTION,
                province=inst.province,
                institution_pk=inst.pk,
                organization_pk=org.pk,
            )
            for inst, org in chosen
        ],
        reg,
    )
    versions = bulk(
        RulePackVersion,
        [
            RulePackVersion(
                pack=pack,
                version=1,
                status=VersionStatus.PUBLISHED,
                effective_from=PAST,
                checksum=f"bench-{pack.institution_pk}",
                source_doc="《本机构医疗美容服务规范》",
            )
            for pack in packs
        ],
        reg,
    )
    cite = {"doc": "bench", "kind": "institution_policy", "title": "本机构医疗美容服务规范"}
    bulk(
        Rule,
        [
            Rule.like(
                r,
                version=version,
                source="《本机构医疗美容服务规范》",
                citations=[cite],
                level=RuleLevel.INSTITUTION,
                data={**r.data, "max_value": POLICY_TOXIN_LIMIT}
                if r.rule_id == "INST.botulinum-units-per-session"
                else r.data,
            )
            for version in versions
            for r in rules
        ],
        reg,
    )


def grow_practitioners(
    reg: Registry, target: int, rng: random.Random, args: argparse.Namespace, batch: int = 20_000
) -> None:
    """Doctors with a practice licence and a 主诊 filing; a share with trainings and authorizations."""
    from django.db import transaction

    from meiguard.authz.models import Authorization
    from meiguard.registry.models import Practitioner, PractitionerSite, Qualification

    # Main institutions: Zipf-skewed over all institutions existing now (a few large groups, a long tail).
    institutions = ZipfSampler(rng, reg.institutions, args.institution_zipf)
    licence_common = {"issuer": "卫生健康委员会", "verification_status": "verified"}
    while reg.practitioners < target:
        start = reg.practitioners
        n = min(batch, target - start)
        ordinals = range(start, start + n)
        mains = institutions.sample(n)
        people = []
        for i, main in zip(ordinals, mains, strict=True):
            roll = rng.random()
            people.append(
                Practitioner(
                    name=f"医生{i:07d}",
                    id_number="",
                    id_number_index=f"bench-{i:07d}",
                    profession="doctor",
                    licence_no=f"110{i:012d}",
                    practice_category="clinical",
                    practice_scope="皮肤病与性病",
                    main_institution_id=reg.inst_id[main],
                    title="attending" if roll < 0.7 else "associate_chief",
                    practising_since=dt.date(2012, 7, 1),
                    status="suspended" if roll > 0.99 else "active",
                    status_reason="停业整顿" if roll > 0.99 else "",
                )
            )
        with transaction.atomic():
            people = bulk(Practitioner, people, reg)
            quals: list[Any] = []
            auths: list[Any] = []
            sites: list[Any] = []
            for i, person, main in zip(ordinals, people, mains, strict=True):
                expired = rng.random() < 0.03
                quals.append(
                    Qualification(
                        practitioner_id=person.pk,
                        kind="practice_licence",
                        number=f"L{i:09d}",
                        valid_from=PAST,
                        valid_until=dt.date(2025, 12, 31) if expired else FAR,
                        **licence_common,
                    )
                )
                quals.append(
                    Qualification(
                        practitioner_id=person.pk,
                        kind="chief_physician_filing",
                        subject="cosmetic_dermatology",
                        filing_date=dt.date(2018, 1, 1),
                        qualifying_years=8,
                        issuer="卫生健康委员会",
                        valid_from=PAST,
                        valid_until=FAR,
                    )
                )
                site = None
                if reg.institutions > 1 and rng.random() < 0.01:  # 多点执业 at another institution
                    site = rng.randrange(reg.institutions - 1)
                    site += site >= main
                    reg.sites[i] = site
                    sites.append(
                        PractitionerSite(
                            practitioner_id=person.pk,
                            institution_id=reg.inst_id[site],
                            valid_from=PAST,
                            valid_until=FAR,
                        )
                    )
                if rng.random() < args.authorized_share:
                    for brand in ("衡力", "润百颜", "热玛吉-FLX"):
                        quals.append(
                            Qualification(
                                practitioner_id=person.pk,
                                kind="training_certificate",
                                product_reference=brand,
                                issuer="厂家",
                                number=f"T{i:09d}{brand}",
                                valid_from=PAST,
                                valid_until=FAR,
                            )
                        )
                    for inst_ord in (main,) if site is None else (main, site):
                        here = {
                            "institution_id": reg.inst_id[inst_ord],
                            "practitioner_id": person.pk,
                            "grantor": "医务科",
                            "valid_from": PAST,
                            "valid_until": FAR,
                            "status": "active",
                        }
                        auths.append(
                            Authorization(kind="qualification", subject="cosmetic_dermatology", **here)
                        )
                        auths.append(Authorization(kind="product", product_brand="衡力", **here))
                        auths.append(Authorization(kind="product", product_brand="润百颜", **here))
                        auths.append(Authorization(kind="device", device_model="热玛吉-FLX", **here))
            bulk(Qualification, quals, reg)
            if sites:
                bulk(PractitionerSite, sites, reg)
            if auths:
                bulk(Authorization, auths, reg)
        reg.prac_id.extend(p.pk for p in people)
        reg.prac_inst.extend(mains)
        if reg.practitioners % 100_000 == 0 or reg.practitioners == target:
            log(f"  {reg.practitioners:,} practitioners")


# ---- requests ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    practitioner_id: int
    institution_id: int
    org_id: int
    procedure_code: str
    lot_id: int | None
    lot_kind: str
    device_id: int | None
    dose: int

    def payload(self) -> dict[str, Any]:
        products: list[dict[str, Any]] = []
        if self.lot_id is not None and self.lot_kind == "toxin":
            products.append({"lot_id": self.lot_id, "dose_value": str(self.dose), "dose_unit": "U"})
        elif self.lot_id is not None:
            products.append({"lot_id": self.lot_id, "dose_value": "1", "dose_unit": "ml", "minutes": 30})
        return {
            "institution_id": self.institution_id,
            "practitioner_id": self.practitioner_id,
            "procedure_code": self.procedure_code,
            "at": AT_ISO,
            "products": products,
            "device_ids": [self.device_id] if self.device_id is not None else [],
        }


def make_samples(reg: Registry, rng: random.Random, zipf: ZipfSampler, n: int) -> list[Sample]:
    """Zipf-skewed over practitioners; at the main institution (or, 1 in 4 for 多点执业, the site)."""
    shapes = [s[:3] for s in SHAPES]
    weights = [s[3] for s in SHAPES]
    out = []
    for ordinal, shape in zip(zipf.sample(n), rng.choices(shapes, weights=weights, k=n), strict=True):
        inst = reg.prac_inst[ordinal]
        site = reg.sites.get(ordinal)
        if site is not None and rng.random() < 0.25:
            inst = site
        code, lot_kind, with_device = shape
        lot = {"toxin": reg.toxin_lot, "filler": reg.filler_lot}.get(lot_kind)
        out.append(
            Sample(
                practitioner_id=reg.prac_id[ordinal],
                institution_id=reg.inst_id[inst],
                org_id=reg.inst_org[inst],
                procedure_code=code,
                lot_id=lot[inst] if lot is not None else None,
                lot_kind=lot_kind,
                device_id=reg.device[inst] if with_device else None,
                dose=rng.choice((20, 50, 100)),
            )
        )
    return out


def decision_request(s: Sample) -> Any:
    """The engine's request for a sample (what the API builds from the same JSON body)."""
    from meiguard.authz.actions import as_request
    from meiguard.authz.facts import ProductUse

    body = s.payload()
    return as_request(
        institution_id=s.institution_id,
        practitioner_id=s.practitioner_id,
        procedure_code=s.procedure_code,
        at=dt.datetime.fromisoformat(AT_ISO),
        products=tuple(
            ProductUse(u["lot_id"], Decimal(u["dose_value"]), u["dose_unit"], u.get("minutes"))
            for u in body["products"]
        ),
        device_ids=tuple(body["device_ids"]),
    )


def member_actor(s: Sample, user_id: int) -> Any:
    """A doctor of the asking institution (the visibility check runs, as for a real member)."""
    from meiguard.core.access import Actor

    return Actor(user_id=user_id, username="bench", roles_by_org={s.org_id: frozenset({"doctor"})})


# ---- measurements -------------------------------------------------------------------------------------


@dataclass
class SizeResult:
    practitioners: int
    institutions: int
    timings: dict[str, Timing]
    queries: dict[str, Counter[int]]
    outcomes: Counter[str]
    load_average: float  # 1-minute load average after measuring: > CPUs means others competed

    def as_dict(self) -> dict[str, Any]:
        return {
            "practitioners": self.practitioners,
            "institutions": self.institutions,
            **{name: t.as_dict() for name, t in self.timings.items()},
            **{
                f"{name}_queries": {str(k): v for k, v in sorted(c.items())}
                for name, c in self.queries.items()
            },
            "outcomes": dict(self.outcomes),
            "load_average": round(self.load_average, 2),
        }


def settle() -> None:
    """Equal starting conditions for a timed loop that writes: empty WAL, no dirty pages pending."""
    from django.db import connection

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    os.sync()


def count_queries(
    items: Iterable[Any], fn: Callable[[Any], Any], before: Callable[[Any], Any]
) -> tuple[Counter[int], list[list[tuple[str, Any]]]]:
    """How many queries each call makes, and the SELECT statements (with parameters) it sent."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts: Counter[int] = Counter()
    statements: list[list[tuple[str, Any]]] = []
    for item in items:
        before(item)
        sent: list[tuple[str, Any]] = []

        def record(execute: Any, sql: str, params: Any, many: bool, context: Any, sent: list = sent) -> Any:
            if sql.lstrip().upper().startswith("SELECT"):
                sent.append((sql, params))
            return execute(sql, params, many, context)

        connection.queries_log.clear()  # a full log (9,000 entries) would make the slice below wrong
        with connection.execute_wrapper(record), CaptureQueriesContext(connection) as ctx:
            fn(item)
        counts[len(ctx.captured_queries)] += 1
        statements.append(sent)
    return counts, statements


def warm_rule_packs(reqs: list[tuple[Any, Any]]) -> None:
    """What a server has derived from the rule packs in force after its first questions of the day (the packs
    resolved per institution, their facts per procedure, their stored snapshot parts) is kept by a "cold"
    measurement; what is forgotten before each cold request is everything about people, lots and devices."""
    from meiguard.authz import actions, snapshot

    snapshot.clear()
    for actor_req in reqs:
        actions.check(actor_req[1], actor_req[0])
    snapshot.clear(rules=False)


def measure_size(reg: Registry, samples: list[Sample], user_id: int, args: argparse.Namespace) -> SizeResult:
    from django.db import connection

    from meiguard.authz import actions, snapshot
    from meiguard.authz.policy import decide
    from meiguard.registry.models import Practitioner

    reqs = [(decision_request(s), member_actor(s, user_id)) for s in samples]
    ids = [s.practitioner_id for s in samples]
    count_n = min(len(reqs), 300)

    def clear() -> None:
        snapshot.clear(rules=False)

    t: dict[str, Timing] = {}
    q: dict[str, Counter[int]] = {}

    def nothing(_: Any) -> None:
        return None

    def load(r: tuple[Any, Any]) -> Any:
        return snapshot.load(r[1], r[0])

    def check(r: tuple[Any, Any]) -> Any:
        return actions.check(r[1], r[0])

    # A process's very first question (nothing cached, rule packs included), for the record.
    t["first_check"] = Timing.of(timed(reqs[:200], check, lambda _: snapshot.clear()))
    warm_rule_packs(reqs)
    settle()

    # Baselines: one indexed point lookup on the practitioners' primary key. "lookup" (the target's
    # baseline) is the ORM's .first(), which also orders by the model's Meta.ordering; [:1] does not.
    table = Practitioner._meta.db_table
    raw_sql = f'SELECT "name" FROM "{table}" WHERE "id" = %s'

    def lookup(pk: int) -> Any:
        return Practitioner.objects.filter(pk=pk).values_list("name", flat=True).first()

    def lookup_slice(pk: int) -> Any:
        return list(Practitioner.objects.filter(pk=pk).values_list("name", flat=True)[:1])

    def lookup_raw(pk: int) -> Any:
        with connection.cursor() as cursor:
            cursor.execute(raw_sql, [pk])
            return cursor.fetchone()

    t["lookup"] = Timing.of(timed(ids, lookup))
    t["lookup_slice"] = Timing.of(timed(ids, lookup_slice))
    t["lookup_raw"] = Timing.of(timed(ids, lookup_raw))

    # Cold: the snapshot cache is emptied before every request (outside the timed region).
    q["cold_load"], statements = count_queries(reqs[:count_n], load, lambda _: clear())
    q["cold_check"], _ = count_queries(reqs[:count_n], check, lambda _: clear())
    t["cold_load"] = Timing.of(timed(reqs, load, lambda _: clear()))
    settle()
    t["cold_check"] = Timing.of(timed(reqs, check, lambda _: clear()))

    # The SQL floor of the cold loader: the very SELECTs it sent, replayed on a raw cursor.
    def replay(batch: list[tuple[str, Any]]) -> None:
        with connection.cursor() as cursor:
            for sql, params in batch:
                cursor.execute(sql, params)
                cursor.fetchall()

    t["cold_load_sql"] = Timing.of(timed(statements, replay))

    # Warm: every request has been asked once, so each is a cache hit (generations unchanged).
    clear()
    snaps = [load(r) for r in reqs]
    q["warm_load"], _ = count_queries(reqs[:count_n], load, nothing)
    q["warm_check"], _ = count_queries(reqs[:count_n], check, nothing)
    t["warm_load"] = Timing.of(timed(reqs, load))
    settle()
    t["warm_check"] = Timing.of(timed(reqs, check))

    # Pure engine: decide() on the loaded snapshots, cycling through the Zipf stream.
    pairs = [(req, snap) for (req, _), snap in zip(reqs, snaps, strict=True)]
    outcomes = Counter(str(decide(req, snap).outcome) for req, snap in pairs)
    stream = list(itertools.islice(itertools.cycle(pairs), args.engine_iterations))
    for req, snap in stream[:1000]:
        decide(req, snap)
    t["engine"] = Timing.of(timed(stream, lambda p: decide(p[0], p[1])))
    clear()
    return SizeResult(reg.practitioners, reg.institutions, t, q, outcomes, os.getloadavg()[0])


# ---- HTTP -----------------------------------------------------------------------------------------------


@dataclass
class HttpResult:
    requests: int
    me_per_s: float
    me: Timing
    decisions_per_s: float
    decisions: Timing
    cache_hit_rate: float
    warm_decisions_per_s: float
    warm_decisions: Timing
    keep_alive: bool
    statuses: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "me_per_s": round(self.me_per_s, 1),
            "me": self.me.as_dict(),
            "decisions_per_s": round(self.decisions_per_s, 1),
            "decisions": self.decisions.as_dict(),
            "snapshot_cache_hit_rate": round(self.cache_hit_rate, 4),
            "warm_decisions_per_s": round(self.warm_decisions_per_s, 1),
            "warm_decisions": self.warm_decisions.as_dict(),
            "keep_alive": self.keep_alive,
            "statuses": self.statuses,
            "load_average": round(os.getloadavg()[0], 2),
        }


class Client:
    """One keep-alive connection; every response is read in full and its status checked."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.post_headers = {**self.headers, "Content-Type": "application/json"}
        self.statuses: Counter[str] = Counter()
        self.closed = 0

    def send(self, method: str, path: str, body: bytes | None = None, token: str = "") -> int:
        headers = dict(self.post_headers if body is not None else self.headers)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        resp.read()
        if (resp.getheader("Connection") or "").lower() == "close":
            self.closed += 1
        self.statuses[f"{method} {path} {resp.status}"] += 1
        return resp.status

    def run(
        self, method: str, path: str, requests: Sequence[tuple[str, bytes | None]]
    ) -> tuple[float, list[int]]:
        """``requests``: (bearer token, body) pairs, each sent and timed (the bench's own heap frozen out of
        the collector's scans, as in ``timed``)."""
        clock = time.perf_counter_ns
        times: list[int] = []
        gc.collect()
        gc.freeze()
        try:
            start = clock()
            for token, body in requests:
                t0 = clock()
                self.send(method, path, body, token)
                times.append(clock() - t0)
            return (clock() - start) / 1e9, times
        finally:
            gc.unfreeze()


def his_tokens(org_ids: Iterable[int]) -> dict[int, str]:
    """An HIS token per institution organisation (a staff user of that institution): its checks are clinical
    checks, recorded in the decision log, as a real HIS's are (an outsider's would be unrecorded simulations)."""
    from meiguard.core.access import Actor
    from meiguard.core.choices import Role
    from meiguard.core.models import Membership, User
    from meiguard.core.tokens import create_token

    out: dict[int, str] = {}
    for org_id in sorted(set(org_ids)):
        user = User.objects.create_user(username=f"his-{org_id}", password=None, display_name=f"HIS {org_id}")
        Membership.objects.create(user=user, organization_id=org_id, role=Role.DOCTOR)
        _, out[org_id] = create_token(Actor.system("bench"), user, name="bench HIS")
    return out


def measure_http(
    reg: Registry, rng: random.Random, zipf: ZipfSampler, token: str, n: int, warmup_n: int, user_id: int
) -> HttpResult:
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

    from meiguard.authz import snapshot
    from meiguard.authz.models import DecisionLog
    from meiguard.wsgi import application

    class QuietHandler(WSGIRequestHandler):
        disable_nagle_algorithm = True  # TCP_NODELAY, as production servers do

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=False)
    server.set_app(application)
    thread = threading.Thread(target=server.serve_forever, name="bench-http", daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        client = Client(port, token)
        timed_samples = make_samples(reg, rng, zipf, n)
        # Warm-up: the snapshot cache is fed by an earlier Zipf stream (in process, the cache the server
        # thread uses), then both endpoints get a few untimed requests.
        snapshot.clear()
        for s in make_samples(reg, rng, zipf, warmup_n):
            snapshot.load(member_actor(s, user_id), decision_request(s))
        warm_samples = make_samples(reg, rng, zipf, min(n, 200))
        tokens = his_tokens(s.org_id for s in [*timed_samples, *warm_samples])
        timed_bodies = [(tokens[s.org_id], json.dumps(s.payload()).encode()) for s in timed_samples]
        me: list[tuple[str, bytes | None]] = [(tokens[s.org_id], None) for s in timed_samples]
        warm = [(tokens[s.org_id], json.dumps(s.payload()).encode()) for s in warm_samples]
        client.run("GET", "/api/v1/me", me[: len(warm)])
        client.run("POST", "/api/v1/decisions", warm)
        settle()
        hits0, misses0 = snapshot.snapshots.hits, snapshot.snapshots.misses
        logged0 = DecisionLog.objects.count()
        half = n // 2
        me_secs = dec_secs = 0.0
        me_times: list[int] = []
        dec_times: list[int] = []
        for part in (slice(0, half), slice(half, n)):  # interleaved in two rounds to even out drift
            secs, times = client.run("GET", "/api/v1/me", me[part])
            me_secs += secs
            me_times += times
            secs, times = client.run("POST", "/api/v1/decisions", timed_bodies[part])
            dec_secs += secs
            dec_times += times
        hits = snapshot.snapshots.hits - hits0
        misses = snapshot.snapshots.misses - misses0
        recorded = DecisionLog.objects.count() - logged0
        if recorded != n:
            log(f"only {recorded} of {n} timed HTTP decisions were recorded in the decision log")
        # Informational: the same stream again, now every snapshot is cached.
        warm_secs, warm_times = client.run("POST", "/api/v1/decisions", timed_bodies)
        bad = {k: v for k, v in client.statuses.items() if not k.endswith(" 200")}
        if bad:
            log(f"unexpected HTTP statuses: {bad}")
        return HttpResult(
            requests=n,
            me_per_s=n / me_secs,
            me=Timing.of(me_times),
            decisions_per_s=n / dec_secs,
            decisions=Timing.of(dec_times),
            cache_hit_rate=hits / max(1, hits + misses),
            warm_decisions_per_s=n / warm_secs,
            warm_decisions=Timing.of(warm_times),
            keep_alive=client.closed == 0,
            statuses=dict(client.statuses),
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# ---- report ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    measurement: str
    value: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    verdict: str = ""


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def us(x: float) -> str:
    return f"{x:,.1f} µs"


def build_rows(
    small: SizeResult, big: SizeResult, http_res: HttpResult | None
) -> tuple[list[Row], dict[str, bool]]:
    tg = TARGETS
    verdicts: dict[str, bool] = {}
    size = f"@{big.practitioners:,}"
    small_size = f"@{small.practitioners:,}"
    bt, st = big.timings, small.timings
    base = bt["lookup"].p50
    rows: list[Row] = []

    def vs(name: str, p: str = "p50") -> tuple[str, str]:
        value = getattr(bt[name], p)
        return f"lookup {us(base)}", f"{value / base:.1f}×"

    verdicts["engine_p50"] = bt["engine"].p50 <= tg["engine_p50_us"]
    rows.append(
        Row(
            "pure engine decide() p50",
            us(bt["engine"].p50),
            f"lookup {us(base)}",
            f"{bt['engine'].p50 / base:.2f}×",
            f"≤ {tg['engine_p50_us']:.0f} µs",
            verdict(verdicts["engine_p50"]),
        )
    )
    rows.append(Row("pure engine decide() p99", us(bt["engine"].p99), "", "", "info"))
    rows.append(Row(f"baseline: point lookup, ORM .first() p50 {size}", us(base), "", "", "baseline"))
    rows.append(Row(f"point lookup, ORM [:1] p50 {size}", us(bt["lookup_slice"].p50), "", "", "info"))
    rows.append(Row(f"point lookup, raw SQL p50 {size}", us(bt["lookup_raw"].p50), "", "", "info"))

    big_q, small_q = big.queries["cold_check"], small.queries["cold_check"]
    verdicts["cold_queries"] = max(big_q) <= tg["cold_queries"] and max(small_q) == max(big_q)
    rows.append(
        Row(
            f"cold check() queries, max {size}",
            str(max(big_q)),
            f"{max(small_q)} {small_size}",
            " ".join(f"{k}q:{n}" for k, n in sorted(big_q.items())),
            f"≤ {tg['cold_queries']}, same at both sizes",
            verdict(verdicts["cold_queries"]),
        )
    )
    rows.append(
        Row(
            f"cold snapshot.load() queries, max {size}",
            str(max(big.queries["cold_load"])),
            f"{max(small.queries['cold_load'])} {small_size}",
            "",
            "info",
        )
    )
    ratio = bt["cold_check"].p50 / base
    verdicts["cold_vs_lookup"] = ratio <= tg["cold_vs_lookup"]
    rows.append(
        Row(
            f"cold check() p50 {size}",
            us(bt["cold_check"].p50),
            f"lookup {us(base)}",
            f"{ratio:.1f}×",
            f"≤ {tg['cold_vs_lookup']:.0f}×",
            verdict(verdicts["cold_vs_lookup"]),
        )
    )
    rows.append(Row(f"cold snapshot.load() p50 {size}", us(bt["cold_load"].p50), *vs("cold_load"), "info"))
    rows.append(
        Row(f"first check() of a process p50 {size}", us(bt["first_check"].p50), *vs("first_check"), "info")
    )
    rows.append(
        Row(
            f"  its SELECTs replayed on a raw cursor, p50 {size}",
            us(bt["cold_load_sql"].p50),
            *vs("cold_load_sql"),
            "info (SQL floor)",
        )
    )
    growth = bt["cold_check"].p99 / st["cold_check"].p99
    verdicts["p99_growth"] = growth <= tg["p99_growth"]
    rows.append(
        Row(
            f"cold check() p99 {size} vs {small_size}",
            us(bt["cold_check"].p99),
            us(st["cold_check"].p99),
            f"{growth:.2f}×",
            f"≤ {tg['p99_growth']}×",
            verdict(verdicts["p99_growth"]),
        )
    )
    for label, name in (
        ("cold snapshot.load() p99", "cold_load"),
        ("warm check() p99", "warm_check"),
        ("point lookup .first() p99", "lookup"),
    ):
        a, b = bt[name].p99, st[name].p99
        rows.append(Row(f"{label} {size} vs {small_size}", us(a), us(b), f"{a / b:.2f}×", "info"))
    rows.append(
        Row(
            f"warm check() p50 {size} ({max(big.queries['warm_check'])} query)",
            us(bt["warm_check"].p50),
            *vs("warm_check"),
            "info",
        )
    )
    rows.append(
        Row(
            f"warm snapshot.load() p50 {size} ({max(big.queries['warm_load'])} queries)",
            us(bt["warm_load"].p50),
            f"lookup {us(base)}",
            f"{bt['warm_load'].p50 / base:.2f}×",
            "info",
        )
    )
    if http_res is not None:
        r = http_res.decisions_per_s / http_res.me_per_s
        verdicts["http_ratio"] = r >= tg["http_ratio"]
        rows.append(
            Row(
                f"HTTP POST /decisions (Zipf; snapshot cache hits {http_res.cache_hit_rate:.0%})",
                f"{http_res.decisions_per_s:,.0f}/s",
                f"GET /me {http_res.me_per_s:,.0f}/s",
                f"{r:.0%}",
                f"≥ {tg['http_ratio']:.0%}",
                verdict(verdicts["http_ratio"]),
            )
        )
        rows.append(
            Row(
                "HTTP POST /decisions (same stream again, all cached)",
                f"{http_res.warm_decisions_per_s:,.0f}/s",
                f"GET /me {http_res.me_per_s:,.0f}/s",
                f"{http_res.warm_decisions_per_s / http_res.me_per_s:.0%}",
                "info",
            )
        )
        rows.append(
            Row(
                "HTTP latency p50 / p99 (Zipf stream)",
                f"{http_res.decisions.p50:,.0f} / {http_res.decisions.p99:,.0f} µs",
                f"/me {http_res.me.p50:,.0f} / {http_res.me.p99:,.0f} µs",
                "",
                "info",
            )
        )
    return rows, verdicts


def render(rows: list[Row]) -> str:
    headers = Row("measurement", "value", "baseline", "ratio", "target", "verdict")
    cols = ("measurement", "value", "baseline", "ratio", "target", "verdict")
    widths = [max(len(getattr(r, c)) for r in [headers, *rows]) for c in cols]

    def line(r: Row) -> str:
        return "| " + " | ".join(getattr(r, c).ljust(w) for c, w in zip(cols, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def machine_info(engine: str) -> dict[str, Any]:
    import sqlite3

    import django
    from django.db import connection

    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "sqlite": sqlite3.sqlite_version,
    }
    if engine == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            info["postgresql"] = cursor.fetchone()[0]
    return info


# ---- the run --------------------------------------------------------------------------------------------


def setup_database(db: Database) -> tuple[int, str]:
    """Migrate, load the shipped rule packs, and create the bench user (platform admin) with an API token."""
    from django.core.management import call_command

    from meiguard.core.access import Actor
    from meiguard.core.choices import OrganizationKind, Role
    from meiguard.core.models import Membership, Organization, User
    from meiguard.core.tokens import create_token
    from meiguard.rules.testing import load_builtin_packs

    call_command("migrate", verbosity=0, interactive=False)
    load_builtin_packs()
    platform_org = Organization.objects.create(name="平台运营", kind=OrganizationKind.PLATFORM)
    user = User.objects.create_user(username="bench", password=None, display_name="bench HIS")
    Membership.objects.create(user=user, organization=platform_org, role=Role.PLATFORM_ADMIN)
    _, raw = create_token(Actor.system("bench"), user, name="bench")
    return user.pk, raw


def generation_pragmas(db: Database, fast: bool) -> None:
    """During generation: synchronous=OFF and a large page cache; afterwards the measurement settings."""
    if db.engine != "sqlite":
        return
    from django.db import connection

    with connection.cursor() as cursor:
        if fast:
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-262144")
        else:
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA cache_size=-2000")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.execute("PRAGMA optimize")
        if db.engine == "sqlite" and not fast:
            cursor.execute("ANALYZE")


def grow(
    db: Database,
    reg: Registry,
    cat: Catalog,
    n_inst: int,
    n_prac: int,
    rng: random.Random,
    args: argparse.Namespace,
) -> float:
    from django.db import connection

    t0 = time.perf_counter()
    generation_pragmas(db, fast=True)
    grow_institutions(reg, cat, n_inst, rng)
    log(f"  {reg.institutions:,} institutions ({time.perf_counter() - t0:.1f} s)")
    grow_practitioners(reg, n_prac, rng, args)
    if db.engine == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    generation_pragmas(db, fast=False)
    gc.collect()
    gc.freeze()  # the generated arrays are long-lived: keep them out of later collections
    return time.perf_counter() - t0


def run(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    from django.db.backends.signals import connection_created

    connection_created.connect(sqlite_pragmas, dispatch_uid="bench-sqlite-pragmas")
    rng = random.Random(args.seed)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    user_id, token = setup_database(db)
    timings["migrate_s"] = time.perf_counter() - t0
    log(f"migrated and loaded rule packs in {timings['migrate_s']:.1f} s ({db.description})")

    reg = Registry()
    cat = create_catalog(reg)
    log(f"generating {args.small_practitioners:,} practitioners / {args.small_institutions:,} institutions")
    timings["generate_small_s"] = grow(
        db, reg, cat, args.small_institutions, args.small_practitioners, rng, args
    )
    sample_rng = random.Random(args.seed + 1)
    zipf = ZipfSampler(sample_rng, reg.practitioners, args.zipf)
    log(f"measuring at {reg.practitioners:,} practitioners ({timings['generate_small_s']:.1f} s to generate)")
    small = measure_size(reg, make_samples(reg, sample_rng, zipf, args.samples), user_id, args)

    log(f"growing to {args.practitioners:,} practitioners / {args.institutions:,} institutions")
    timings["generate_full_s"] = grow(db, reg, cat, args.institutions, args.practitioners, rng, args)
    zipf = ZipfSampler(sample_rng, reg.practitioners, args.zipf)
    log(f"measuring at {reg.practitioners:,} practitioners ({timings['generate_full_s']:.1f} s to grow)")
    big = measure_size(reg, make_samples(reg, sample_rng, zipf, args.samples), user_id, args)

    log(f"HTTP: {args.http_warmup:,} requests to warm the cache, {args.http_requests:,} per endpoint timed")
    http_res = measure_http(reg, sample_rng, zipf, token, args.http_requests, args.http_warmup, user_id)

    rows, verdicts = build_rows(small, big, http_res)
    return {
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": machine_info(db.engine),
        "database": db.description,
        "rows_generated": dict(reg.rows),
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "small": small.as_dict(),
        "full": big.as_dict(),
        "http": http_res.as_dict(),
        "verdicts": {k: verdict(v) for k, v in verdicts.items()},
        "table": [vars(r) for r in rows],
        "_rows": rows,
    }


def report_table(result: dict[str, Any], as_json: bool, name: str, summary: str) -> None:
    """A size bench's report (clinical, inventory): the machine, one line about the generated data, the table of
    rows and the targets met; with ``--json`` the report goes to stderr and the JSON to stdout."""
    rows: list[Row] = result.pop("_rows")
    out = sys.stderr if as_json else sys.stdout
    m = result["machine"]
    print(file=out)
    print(
        f"meiguard {name} benchmark — {result['database'].split(' ')[0]}, {m['cpus']} CPUs, "
        f"Python {m['python']}, Django {m['django']}, SQLite {m['sqlite']}"
        + (f", PostgreSQL {m['postgresql']}" if "postgresql" in m else ""),
        file=out,
    )
    print(summary, file=out)
    print(file=out)
    print(render(rows), file=out)
    passed = sum(1 for v in result["verdicts"].values() if v == "PASS")
    print(f"\n{passed}/{len(result['verdicts'])} targets met", file=out)
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))


def print_report(result: dict[str, Any], as_json: bool) -> None:
    rows: list[Row] = result.pop("_rows")
    out = sys.stderr if as_json else sys.stdout
    m = result["machine"]
    full = result["full"]
    print(file=out)
    print(
        f"meiguard decision benchmark — {result['database'].split(' ')[0]}, {m['cpus']} CPUs, "
        f"Python {m['python']}, Django {m['django']}, SQLite {m['sqlite']}"
        + (f", PostgreSQL {m['postgresql']}" if "postgresql" in m else ""),
        file=out,
    )
    print(
        f"registry: {full['practitioners']:,} practitioners, {full['institutions']:,} institutions; "
        f"rows generated {sum(result['rows_generated'].values()):,}; "
        f"generation {result['timings']['generate_small_s'] + result['timings']['generate_full_s']:.0f} s "
        f"(migrate {result['timings']['migrate_s']:.0f} s); seed {result['args']['seed']}",
        file=out,
    )
    print(f"decision outcomes in the sample: {full['outcomes']}", file=out)
    print(
        f"1-min load average after measuring: {result['small']['load_average']} @{result['small']['practitioners']:,}, "
        f"{full['load_average']} @{full['practitioners']:,}, {result['http']['load_average']} after HTTP "
        f"(above {m['cpus']}: other processes competed for the CPUs)",
        file=out,
    )
    print(file=out)
    print(render(rows), file=out)
    passed = sum(1 for v in result["verdicts"].values() if v == "PASS")
    print(f"\n{passed}/{len(result['verdicts'])} targets met", file=out)
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))


def run_bench(
    args: argparse.Namespace,
    measure: Callable[[argparse.Namespace, Database], dict[str, Any]],
    report: Callable[[dict[str, Any], bool], None],
) -> int:
    """Every bench's main: the environment, a fresh database, Django, the run, cleanup, the report."""
    configure_environment()
    db = prepare_database(args)
    import django

    django.setup()
    started = time.perf_counter()
    try:
        result = measure(args, db)
    finally:
        db.cleanup()
    result["timings"]["total_s"] = round(time.perf_counter() - started, 1)
    report(result, args.json)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_bench(parse_args(argv), run, print_report)


if __name__ == "__main__":
    sys.exit(main())
