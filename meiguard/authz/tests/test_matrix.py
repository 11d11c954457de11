"""The privilege matrix (issue 16 item 4): every cell equals the engine's answer through the single-request
loader, nothing is logged, the query count does not grow with the people, the page filters and exports."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from meiguard.authz import actions, matrix, snapshot
from meiguard.authz.facts import DecisionRequest
from meiguard.authz.models import DecisionLog, DecisionSnapshot
from meiguard.authz.policy import PRACTITIONER_CHECKS, Outcome, decide
from meiguard.core.apierrors import NotFoundField
from meiguard.reviews.tests.conftest import make_nurse

from .conftest import FAR, PAST, SYSTEM, authorize, make_doctor

ON = dt.date(2026, 3, 3)


def _staff(clinic):
    """Enough variety for all three outcomes: a surgeon with a grade-limited authorization, a nurse, a doctor
    without authorizations, an expiring authorization, a technology authorization of the institution."""
    surgeon = make_doctor(clinic.jia, "王主诊", subject="cosmetic_surgery", scope="外科")
    authorize(clinic.jia, surgeon, procedure_code="", subject="cosmetic_surgery", max_grade=1)
    make_nurse(clinic.jia, "张护士", 200)
    make_doctor(clinic.jia, "赵医生")
    authorize(
        clinic.jia, clinic.li, procedure_code="derm-chemical-peel", valid_until=ON + dt.timedelta(days=10)
    )
    actions.create_authorization(
        SYSTEM,
        institution_id=clinic.yi.pk,
        data={
            "kind": "technology",
            "grantee_institution_id": clinic.jia.pk,
            "grantor": "乙医院",
            "technology_name": "新型光电技术",
            "technology_kind": "new",
            "procedure_code": "derm-botulinum-toxin-injection",
            "valid_from": PAST,
            "valid_until": FAR,
        },
        activate=True,
    )
    actions.change_status(SYSTEM, clinic.auths["product"].pk, action="suspend", reason="复核")


def test_every_cell_matches_the_engine_through_the_single_request_loader(clinic):
    _staff(clinic)
    actor = clinic.world.actor("zhao")
    m = matrix.compute(actor, clinic.jia.pk, ON)
    assert len(m.people) == 4 and len(m.procedures) > 20
    outcomes = set()
    for person in m.people:
        for proc in m.procedures:
            req = DecisionRequest(
                institution_id=clinic.jia.pk,
                practitioner_id=person.facts.id,
                procedure_code=proc.code,
                at=matrix.noon(ON),
            )
            snap = snapshot.load(actor, req, use_cache=False)
            expected = decide(req, snap, checks=PRACTITIONER_CHECKS)
            assert m.decision(person.facts.id, proc.code) == expected, (person.facts.name, proc.code)
            outcomes.add(expected.outcome)
    assert outcomes == set(Outcome)  # the test covers allowed, warned and denied cells


def test_nothing_is_written(clinic):
    _staff(clinic)
    logs, snaps = DecisionLog.objects.count(), DecisionSnapshot.objects.count()
    matrix.compute(clinic.world.actor("zhao"), clinic.jia.pk, ON)
    r = clinic.world.client("zhao").get("/authz/matrix/", {"institution": clinic.jia.pk, "on": "2026-03-03"})
    assert r.status_code == 200
    assert (DecisionLog.objects.count(), DecisionSnapshot.objects.count()) == (logs, snaps)


def _queries(actor, institution_id) -> int:
    snapshot.clear()
    with CaptureQueriesContext(connection) as ctx:
        matrix.compute(actor, institution_id, ON)
    return len(ctx.captured_queries)


def test_the_query_count_does_not_grow_with_people(clinic):
    actor = clinic.world.actor("zhao")
    before = _queries(actor, clinic.jia.pk)
    _staff(clinic)
    for n in range(5):
        doc = make_doctor(clinic.jia, f"医生{n}")
        authorize(clinic.jia, doc)
    after = _queries(actor, clinic.jia.pk)
    assert after == before
    assert after <= 12, after  # pinned: institution ×2, rule pack, people, qualifications, sites, auths


def test_a_foreign_institution_is_not_found(clinic):
    with pytest.raises(NotFoundField):
        matrix.compute(clinic.world.actor("zhao"), clinic.yi.pk, ON)
    r = clinic.world.client("zhao").get("/authz/matrix/", {"institution": clinic.yi.pk})
    assert r.status_code == 404


def test_the_page_shows_the_grid_and_filters(clinic):
    _staff(clinic)
    client = clinic.world.client("zhao")
    r = client.get("/authz/matrix/", {"on": "2026-03-03"})  # 甲 is zhao's only institution: preselected
    html = r.content.decode()
    assert r.status_code == 200
    for name in ("李医生", "王主诊", "张护士", "赵医生"):
        assert name in html
    assert 'data-procedure="derm-botulinum-toxin-injection"' in html
    assert "美容外科 · 1级" in html
    assert 'title="不允许:没有覆盖该项目的有效授权' in html  # the hover text: verdict and main reason

    nurses = client.get("/authz/matrix/", {"on": "2026-03-03", "profession": "nurse"}).content.decode()
    assert "张护士" in nurses and "李医生" not in nurses

    surgery = client.get(
        "/authz/matrix/", {"on": "2026-03-03", "subject": "cosmetic_surgery", "grade": "1"}
    ).content.decode()
    assert 'data-procedure="surg-double-eyelid"' in surgery
    assert 'data-procedure="derm-botulinum-toxin-injection"' not in surgery

    allowed = client.get("/authz/matrix/", {"on": "2026-03-03", "outcome": "allow"}).content.decode()
    assert "赵医生" not in allowed  # no authorization: nothing allowed
    assert "王主诊" in allowed

    bad = client.get("/authz/matrix/", {"grade": "9", "subject": "x", "outcome": "y", "on": "nope"})
    assert bad.status_code == 200  # unknown filters are ignored


def test_a_cell_shows_its_reasons_with_sources(clinic):
    _staff(clinic)
    r = clinic.world.client("zhao").get(
        "/authz/matrix/cell/",
        {
            "institution": clinic.jia.pk,
            "practitioner": clinic.li.pk,
            "procedure": "surg-double-eyelid",
            "on": "2026-03-03",
        },
    )
    html = r.content.decode()
    assert r.status_code == 200
    assert "AUTHORIZATION_MISSING" in html and "依据" in html
    assert DecisionLog.objects.count() == 0
    unknown = clinic.world.client("zhao").get(
        "/authz/matrix/cell/",
        {"institution": clinic.jia.pk, "practitioner": clinic.li.pk, "procedure": "nope"},
    )
    assert unknown.status_code == 404


def test_the_export_is_the_matrix(clinic):
    from openpyxl import load_workbook

    _staff(clinic)
    actor = clinic.world.actor("zhao")
    m = matrix.compute(actor, clinic.jia.pk, ON)
    r = clinic.world.client("zhao").get(
        "/authz/matrix/", {"institution": clinic.jia.pk, "on": "2026-03-03", "format": "xlsx"}
    )
    assert r.status_code == 200
    assert r["Content-Disposition"].startswith('attachment; filename="privilege-matrix-')
    ws = load_workbook(io.BytesIO(r.content)).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    assert len(rows) == 1 + len(m.people)
    header = rows[0]
    assert header[:2] == ("姓名", "职业")
    col = next(i for i, h in enumerate(header) if h and "(surg-double-eyelid)" in h)
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["王主诊"][col].startswith("允许")
    assert by_name["李医生"][col].startswith("不允许")
