#!/usr/bin/env python
"""Load test of the public pages (issue 15 §6): p50/p99 at 50 concurrent clients, against a static file.

Builds a fresh database with the demo world (``seed_demo``: 长沙雅美 with its published prices, price history
and a treated case), collects static files, starts the production server (gunicorn, one worker with threads
— the locmem cache is per process; several workers need Redis) on 127.0.0.1 in a subprocess, then times, in
the same run and from 50 client threads each holding one keep-alive connection (``http.client``):

- static: ``/static/public/public.css`` served by WhiteNoise (the baseline);
- institution: ``/p/institutions/<雅美>/`` (the public page: licence, grade, subjects, prices);
- verify: ``/p/c/<token>/`` (the case behind a QR code: every check and the engine's verdict).

The three are measured in turns, twice (to even out drift). Target: each page's p99 within 3× of the static
file's p99. See docs/benchmarks.md, "Public pages".

    .venv/bin/python bench/public.py                 # 50 clients × 40 requests per page and round
    .venv/bin/python bench/public.py --requests 10   # smoke run
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import decide as common
from decide import Row, Timing, log, verdict

TARGET_RATIO = 3.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=50, help="concurrent clients (threads), default 50")
    p.add_argument(
        "--requests", type=int, default=40, help="requests per client, page and round (default 40)"
    )
    p.add_argument("--threads", type=int, default=8, help="server threads (gunicorn --threads), default 8")
    p.add_argument("--quick", action="store_true", help="10 requests per client, page and round")
    common.database_args(p, "public_bench")
    args = p.parse_args(argv)
    if args.quick:
        args.requests = 10
    return args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/robots.txt")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def load(port: int, path: str, clients: int, per_client: int) -> tuple[list[int], Counter[str]]:
    """``clients`` threads, each on its own keep-alive connection, send ``per_client`` GETs of ``path``."""
    times: list[int] = []
    statuses: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        mine: list[int] = []
        seen: Counter[str] = Counter()
        start.wait()
        for _ in range(per_client):
            t0 = time.perf_counter_ns()
            conn.request("GET", path, headers={"Accept-Language": "zh-hans"})
            resp = conn.getresponse()
            resp.read()
            mine.append(time.perf_counter_ns() - t0)
            seen[str(resp.status)] += 1
        conn.close()
        with lock:
            times.extend(mine)
            statuses.update(seen)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, statuses


def measure(args: argparse.Namespace, db: common.Database) -> dict[str, Any]:
    from django.core.management import call_command

    from meiguard.clinical.models import Case, Usage
    from meiguard.public import tokens
    from meiguard.registry.models import Institution
    from meiguard.rules.testing import load_builtin_packs

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    load_builtin_packs()
    call_command("seed_demo", "--quiet", stdout=open(os.devnull, "w"))  # noqa: SIM115
    static_root = Path(tempfile.mkdtemp(prefix="meiguard-bench-static-"))
    os.environ["STATIC_ROOT"] = str(static_root)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=common.ROOT, check=True
    )
    timings["setup_s"] = round(time.perf_counter() - t0, 1)
    inst = Institution.objects.get(name="长沙雅美医疗美容门诊部")
    used_case = Case.objects.filter(pk__in=Usage.objects.values("case_id")).order_by("pk").first()
    case = used_case or Case.objects.filter(institution=inst).order_by("pk").first()
    assert case is not None
    paths = {
        "static": "/static/public/public.css",
        "institution": f"/p/institutions/{inst.pk}/",
        "verify": f"/p/c/{tokens.make(case.pk)}/",
    }
    from django.db import connections

    connections.close_all()
    port = free_port()
    env = {
        **os.environ,
        "RATE_LIMIT_PUBLIC_LOOKUP": "1000000000/60",
        "RATE_LIMIT_PUBLIC_VERIFY": "1000000000/60",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "WEB_WORKERS": "1",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "meiguard.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            str(args.threads),
            "--worker-class",
            "gthread",
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=common.ROOT,
        env=env,
        start_new_session=True,
    )
    results: dict[str, list[int]] = {k: [] for k in paths}
    statuses: Counter[str] = Counter()
    try:
        wait_ready(port)
        for path in paths.values():  # warm-up: connections, caches, rule packs
            load(port, path, min(args.clients, 10), 3)
        t1 = time.perf_counter()
        for _round in range(2):
            for name, path in paths.items():
                times, seen = load(port, path, args.clients, args.requests)
                results[name] += times
                statuses.update({f"{name} {k}": v for k, v in seen.items()})
        timings["load_s"] = round(time.perf_counter() - t1, 1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(static_root, ignore_errors=True)
    bad = {k: v for k, v in statuses.items() if not k.endswith(" 200")}
    if bad:
        log(f"unexpected statuses: {bad}")
    stats = {name: Timing.of(times) for name, times in results.items()}
    return {
        "machine": common.machine_info(db.engine),
        "database": db.description,
        "clients": args.clients,
        "requests_per_page": len(results["static"]),
        "server": f"gunicorn gthread, 1 worker × {args.threads} threads",
        "timings": timings,
        "statuses": dict(statuses),
        "pages": {name: t.as_dict() for name, t in stats.items()},
        "ratios": {
            name: round(stats[name].p99 / stats["static"].p99, 2) for name in ("institution", "verify")
        },
    }


def report(result: dict[str, Any], as_json: bool) -> None:
    pages = result["pages"]

    def ms(us_value: float) -> str:
        return f"{us_value / 1000:.1f} ms"

    static = f"{ms(pages['static']['p50_us'])} / {ms(pages['static']['p99_us'])}"
    rows = [Row("static file p50 / p99 (baseline)", static)]
    verdicts: dict[str, str] = {}
    for name, label in (("institution", "institution page"), ("verify", "case verify page")):
        ratio = result["ratios"][name]
        verdicts[name] = verdict(ratio <= TARGET_RATIO)
        rows.append(
            Row(
                f"{label} p50 / p99",
                f"{ms(pages[name]['p50_us'])} / {ms(pages[name]['p99_us'])}",
                static,
                f"{ratio}× (p99)",
                f"p99 ≤ {TARGET_RATIO:g}× static",
                verdicts[name],
            )
        )
    result["_rows"] = rows
    result["verdicts"] = verdicts
    common.report_table(
        result,
        as_json,
        "public",
        f"{result['clients']} concurrent clients, {result['requests_per_page']} requests per page, "
        f"{result['server']}",
    )


def main(argv: Sequence[str] | None = None) -> int:
    # The demo world encrypts ID numbers: a valid Fernet key, used only by this bench (decide.py's default
    # key is not one; its own runs never encrypt).
    os.environ.setdefault("FIELD_ENCRYPTION_KEY", "YmVuY2gtb25seS1wdWJsaWMta2V5LTMyLWJ5dGVzISE=")
    return common.run_bench(parse_args(argv), measure, report)


if __name__ == "__main__":
    sys.exit(main())
