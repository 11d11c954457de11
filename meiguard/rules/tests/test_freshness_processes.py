"""Every process is current at once: a version published by one process is used by a running server's very
next answer (issue 10, item 5).

Real processes, no mocks: a fresh database (a temporary SQLite file, or — when the suite runs on PostgreSQL —
a uniquely named database on the same server, dropped afterwards), ``manage.py migrate``, the built-in packs,
a small clinic, and ``manage.py runserver`` on a free loopback port with its own per-process cache (locmem).
The server is asked about a day D and the day before, so everything it caches is warm; then *another* process
saves and publishes the clinic's own policy (本机构规范 v1: botulinum toxin 150 U) effective on D, and later
loads and publishes ``cn-national v2`` (a 10-year minimum for a dermatology 主诊) effective on D+1. The
server's next answers use each at once: D uses the policy (180 U denied), D-1 still the template, and across
midnight 23:59:59 the old layer, 00:00:01 the new one; the same for the national version on D+1.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
PACKS = Path(settings.RULE_PACK_DIR)
D = "2026-03-10"  # the policy's effective date (the clinic's documents are valid then)
D_MINUS_1 = "2026-03-09"
D_PLUS_1 = "2026-03-11"  # the new national version's effective date
STEP_TIMEOUT = (
    300  # seconds, for each manage.py command (a fresh migrate of every app, on a loaded 2-core CI machine)
)
SERVER_START_TIMEOUT = 90
HTTP_TIMEOUT = 15

# Built with the registry's and authz's own actions (the helpers the authz tests use); prints the ids.
FIXTURE = """
import json
from conftest import World
from meiguard.authz.tests.conftest import TODAY, authorize, make_doctor, make_institution, make_stock
world = World()
jia = make_institution(world.org_jia.pk, "甲诊所")
li = make_doctor(jia, "李医生", user_id=world.users["li"].pk)
stock = make_stock(jia, inspected_on=TODAY)
authorize(jia, li)
authorize(jia, li, "product", product_brand="衡力")
authorize(jia, li, "device", device_model="热玛吉-FLX")
print("FIXTURE=" + json.dumps({"institution": jia.pk, "practitioner": li.pk, "lot": stock.lot.pk,
                               "device": stock.device.pk}))
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of the suite's kind that no other test (and no other developer) uses."""
    default = settings.DATABASES["default"]
    if default["ENGINE"].endswith("sqlite3"):
        yield "sqlite:///" + str(tmp_path_factory.mktemp("fresh") / "fresh.sqlite3")
        return
    import psycopg
    from psycopg import sql

    name = f"meiguard_fresh_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    parts = urlsplit(os.environ["DATABASE_URL"])
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(parts._replace(path="/" + name))
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@dataclass
class Site:
    env: dict[str, str]
    ids: dict[str, int]
    token: str
    port: int
    log: Path

    def manage(self, *args: str) -> str:
        """Run ``manage.py`` in a new process; its output, or a failure showing it."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
        )
        if done.returncode != 0:
            pytest.fail(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def decide(self, at: str, dose: int = 180) -> dict[str, Any]:
        return self.post("/api/v1/decisions", self.payload(at, dose))

    def payload(self, at: str, dose: int = 180) -> dict[str, Any]:
        return {
            "institution_id": self.ids["institution"],
            "practitioner_id": self.ids["practitioner"],
            "procedure_code": "derm-botulinum-toxin-injection",
            "at": at,
            "products": [{"lot_id": self.ids["lot"], "dose_value": str(dose), "dose_unit": "U"}],
            "device_ids": [self.ids["device"]],
        }

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
        try:
            conn.request(
                "POST",
                path,
                body=json.dumps(body),
                headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            )
            response = conn.getresponse()
            data = response.read().decode("utf-8")
        finally:
            conn.close()
        assert response.status == 200, f"{path}: {response.status} {data}\n{self.log.read_text()[-3000:]}"
        return json.loads(data)  # type: ignore[no-any-return]


def _wait_for(server: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"runserver exited with {server.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(
        f"runserver did not listen on 127.0.0.1:{port} within {SERVER_START_TIMEOUT} s:\n{log.read_text()}"
    )


@pytest.fixture(scope="module")
def site(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="meiguard.settings",
        MEIGUARD_TESTING="1",
        DEBUG="true",
        CACHE_URL="locmem://",  # each process has its own cache: nothing is shared but the database
        FIELD_ENCRYPTION_KEY="p4Xr5HqWf6Z2j8a1Yk3Nq0TtVb9sLmCxRz7EwUoIgDc=",
        AXES_ENABLED="false",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    tmp = tmp_path_factory.mktemp("fresh-site")
    log = tmp / "runserver.log"
    s = Site(env, {}, "", _free_port(), log)
    s.manage("migrate", "--noinput", "-v", "0")
    s.manage("load_rule_pack", "--builtin", "--publish")
    out = s.manage("shell", "-c", FIXTURE)
    s.ids = json.loads(re.search(r"^FIXTURE=(.*)$", out, re.M).group(1))  # type: ignore[union-attr]
    s.token = s.manage("create_api_token", "li", "freshness-test").strip().splitlines()[-1]
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{s.port}"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(server, s.port, log)
        yield s
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


WATCHED = {"DOSE_OVER_LIMIT", "CHIEF_FILING_YEARS_SHORT"}
TEMPLATE = ("全国基线 v1 + 机构规范模板 v1", True, ())
POLICY = ("全国基线 v1 + 本机构规范 v1", False, ("DOSE_OVER_LIMIT",))
NATIONAL_V2 = ("全国基线 v2 + 本机构规范 v1", False, ("CHIEF_FILING_YEARS_SHORT", "DOSE_OVER_LIMIT"))


def _summary(answer: dict[str, Any]) -> tuple[str, bool, tuple[str, ...]]:
    codes = {r["code"] for r in answer["reasons"]} & WATCHED
    return answer["rule_pack"], answer["allowed"], tuple(sorted(codes))


# Another process saves and publishes the clinic's own policy (本机构规范 v1): botulinum toxin 150 U, effective
# on D. ``rules.actions.publish_version`` is what the policy page's publish calls after its checks (which refuse
# a date before today; D is a fixed date so the clinic's documents are valid).
POLICY_SCRIPT = """
import datetime as dt
from meiguard.core.access import Actor
from meiguard.rules import actions, institution
actor = Actor.system("freshness-test")
draft = institution.save_draft(actor, {institution}, values={{"botulinum_units_per_session": "150"}})
actions.publish_version(actor, draft.pack.code, draft.version, effective_from=dt.date.fromisoformat("{day}"))
print("POLICY", draft.pack.code, draft.version)
"""


def _national_v2(tmp: Path) -> Path:
    """cn-national as shipped, as version 2 with 10 years for a cosmetic-dermatology 主诊 (李医生 has 8)."""
    target = tmp / "cn-national"
    shutil.copytree(PACKS / "cn-national", target)
    text = (target / "pack.yaml").read_text(encoding="utf-8")
    rule = "  - id: PR-02.cosmetic_dermatology\n"
    head, tail = text.split(rule, 1)
    assert "    min_years: 3\n" in tail
    text = head + rule + tail.replace("    min_years: 3\n", "    min_years: 10\n", 1)
    text, n = re.subn(r"(?m)^(  version:) 1$", r"\1 2", text, count=1)
    assert n == 1
    (target / "pack.yaml").write_text(text, encoding="utf-8")
    return target


def test_a_running_server_uses_versions_published_by_another_process_at_once(
    site: Site, tmp_path: Path
) -> None:
    late, early = f"{D_MINUS_1}T23:59:59+08:00", f"{D}T00:00:01+08:00"
    before = {
        at: site.decide(at) for at in (f"{D}T10:00:00+08:00", f"{D_MINUS_1}T10:00:00+08:00", late, early)
    }
    batch_before = site.post("/api/v1/decisions/batch", {"requests": [site.payload(f"{D}T11:00:00+08:00")]})
    assert {_summary(a) for a in before.values()} == {TEMPLATE}
    assert _summary(batch_before["results"][0]["decision"]) == TEMPLATE
    assert _summary(site.decide(f"{D}T10:00:00+08:00")) == TEMPLATE  # served warm

    # 1. An institution policy published by another process applies on the server's next answer.
    out = site.manage("shell", "-c", POLICY_SCRIPT.format(institution=site.ids["institution"], day=D))
    assert "POLICY" in out
    assert _summary(site.decide(f"{D}T10:00:00+08:00")) == POLICY
    assert _summary(site.decide(f"{D_MINUS_1}T10:00:00+08:00")) == TEMPLATE
    assert _summary(site.decide(late)) == TEMPLATE
    assert _summary(site.decide(early)) == POLICY

    # 2. A national version: a draft changes nothing; published for D+1, it applies from 00:00 of D+1.
    site.manage("load_rule_pack", str(_national_v2(tmp_path)))
    assert _summary(site.decide(f"{D_PLUS_1}T10:00:00+08:00")) == POLICY  # a draft: no change
    out = site.manage("publish_rule_pack", "cn-national", "2", "--effective-from", D_PLUS_1)
    assert f"effective_from={D_PLUS_1}" in out
    assert _summary(site.decide(f"{D_PLUS_1}T10:00:00+08:00")) == NATIONAL_V2
    assert _summary(site.decide(f"{D}T23:59:59+08:00")) == POLICY
    assert _summary(site.decide(f"{D_PLUS_1}T00:00:01+08:00")) == NATIONAL_V2
    batch = site.post(
        "/api/v1/decisions/batch",
        {
            "requests": [
                site.payload(f"{D_PLUS_1}T11:00:00+08:00"),
                site.payload(f"{D}T11:00:00+08:00"),
                site.payload(f"{D_MINUS_1}T11:00:00+08:00"),
            ]
        },
    )
    assert [_summary(r["decision"]) for r in batch["results"]] == [NATIONAL_V2, POLICY, TEMPLATE]
