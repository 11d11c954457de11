"""Rule-change impact (rules/impact.py): which decisions a candidate rule-pack version flips, and only those.

The scene (built on authz's ``clinic``): at 甲诊所 (湖南, 门诊部 with 麻醉科 → grade 2) 李医生 injects 衡力
botulinum toxin (authorized) and asked the engine three times: 180 U and 100 U (allowed under the 200 U
limit) and 250 U (denied); 赵医生 (美容外科 主诊) is authorized for 眉提升术 and 重睑成形术 (grade 1); at 乙医院
(北京) 孙医生 is authorized for botulinum toxin.
"""

# ruff: noqa: F811  (pytest fixtures imported from authz's conftest and test_impact are parameters here)

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from meiguard.authz import actions as authz_actions
from meiguard.authz import snapshot
from meiguard.authz.policy import Outcome
from meiguard.authz.tests.conftest import (  # noqa: F401  (fixtures)
    SYSTEM,
    TODAY,
    Clinic,
    authorize,
    clinic,
    make_doctor,
    snapshot_product,
)
from meiguard.rules import actions, impact
from meiguard.rules.impact import Direction, Source
from meiguard.rules.models import RulePackVersion

from .helpers import edit

pytestmark = pytest.mark.django_db

BOTOX = "derm-botulinum-toxin-injection"


@pytest.fixture(autouse=True)
def _fresh_report_cache():
    cache.clear()
    yield
    cache.clear()


@dataclasses.dataclass
class Scene:
    clinic: Clinic
    surgeon: object
    brow_lift: object
    double_eyelid: object
    sun_botox: object
    logs: dict[int, object]


def log_request(c: Clinic, dose: int, **changes: object):
    req = c.request(products=(snapshot_product(c.lot.pk, dose),), **changes)
    return authz_actions.check(SYSTEM, req)


@pytest.fixture
def scene(clinic) -> Scene:
    surgeon = make_doctor(clinic.jia, "赵医生", subject="cosmetic_surgery", scope="外科", trainings=())
    brow = authorize(clinic.jia, surgeon, procedure_code="surg-brow-lift")
    eyelid = authorize(clinic.jia, surgeon, procedure_code="surg-double-eyelid")
    sun_botox = authorize(clinic.yi, clinic.sun_doctor)
    logs = {dose: log_request(clinic, dose) for dose in (180, 100, 250)}
    assert logs[180].decision.allowed and logs[100].decision.allowed
    assert not logs[250].decision.allowed
    snapshot.clear()
    return Scene(clinic, surgeon, brow, eyelid, sun_botox, logs)


def candidate(
    pack_copy,
    *replacements: tuple[str, str],
    code: str = "cn-national",
    version: int = 2,
    csv: tuple[tuple[str, str], ...] = (),
) -> RulePackVersion:
    """A draft version of ``code`` with text replacements in pack.yaml (and the catalog CSV)."""
    path: Path = pack_copy(code, f"{code}-v{version}")
    edit(path, ("version: 1", f"version: {version}"), *replacements)
    if csv:
        edit(path, *csv, file="procedure_catalog.csv")
    return actions.load_pack(SYSTEM, path).version


# The botulinum limit is institution practice: it lives in the institution template (an institution layer).
TEMPLATE = "institution-template"
LIMIT_150 = ("max_value: 200", "max_value: 150")
LIMIT_300 = ("max_value: 200", "max_value: 300")
BROW_GRADE_3 = (
    ",眉提升术,Brow lift,1,surgical,local,",
    ",眉提升术,Brow lift,3,surgical,epidural-iv,",
)


def keys(report: impact.ImpactReport) -> set[tuple[str, str, str, str]]:
    return {(r.institution_name, r.practitioner_name, r.procedure_code, r.items) for r in report.rows}


# ---- tightening, relaxing, unchanged ------------------------------------------------------------


def test_a_lower_dose_limit_flips_only_the_request_above_it(scene, pack_copy):
    version = candidate(pack_copy, LIMIT_150, code=TEMPLATE)
    report = impact.assess(version, on=TODAY)

    assert len(report.rows) == 1
    row = report.rows[0]
    assert (row.institution_name, row.practitioner_name, row.procedure_code) == ("甲诊所", "李医生", BOTOX)
    assert "180U" in row.items and "B2026001" in row.items
    assert row.direction == Direction.TIGHTER
    assert row.before in (Outcome.ALLOW, Outcome.ALLOW_WITH_WARNINGS) and row.after == Outcome.DENY
    assert [r.code for r in row.added] == ["DOSE_OVER_LIMIT"]
    assert row.removed == ()
    rule = row.added[0].rule
    assert (rule.pack, rule.version, rule.rule_id) == ("inst-template", 2, "INST.botulinum-units-per-session")
    assert rule.layer == "institution" and rule.pack_label == "机构规范模板 v2"
    assert rule.source.startswith("《2026年医疗美容服务年度工作计划(某医疗美容机构)》一(二)2")
    assert row.sources == (Source.DECISION_LOG,)
    assert row.asked == 1
    assert row.authorization_ids == (scene.clinic.auths["procedure"].pk,)
    assert report.totals()[Direction.TIGHTER] == 1
    assert report.totals()[Direction.LOOSER] == 0


def test_a_raised_grade_flips_the_authorized_procedure_and_nothing_else(scene, pack_copy):
    version = candidate(pack_copy, csv=(BROW_GRADE_3,))
    report = impact.assess(version, on=TODAY)

    assert [(r.practitioner_name, r.procedure_code) for r in report.rows] == [("赵医生", "surg-brow-lift")]
    row = report.rows[0]
    assert row.direction == Direction.TIGHTER
    assert [r.code for r in row.added] == ["PROCEDURE_GRADE_EXCEEDS_INSTITUTION"]
    assert dict(row.added[0].facts)["procedure_grade"] == "3"
    assert row.added[0].rule.rule_id == "IN-03.outpatient-anesthesiology"
    assert row.sources == (Source.AUTHORIZATION,)
    assert row.authorization_ids == (scene.brow_lift.pk,)
    assert row.items == ""
    jia = next(i for i in report.institutions if i.name == "甲诊所")
    assert jia.count(Direction.TIGHTER) == 1 and jia.changed == 1


def test_a_higher_dose_limit_yields_deny_to_allow(scene, pack_copy):
    report = impact.assess(candidate(pack_copy, LIMIT_300, code=TEMPLATE), on=TODAY)

    assert len(report.rows) == 1
    row = report.rows[0]
    assert "250U" in row.items
    assert row.direction == Direction.LOOSER
    assert row.before == Outcome.DENY and row.after != Outcome.DENY
    assert [r.code for r in row.removed] == ["DOSE_OVER_LIMIT"]
    assert row.removed[0].rule.version == 1  # the rule that denied it before
    assert row.added == ()


def test_an_unchanged_copy_changes_nothing(scene, pack_copy):
    report = impact.assess(candidate(pack_copy), on=TODAY)

    assert report.rows == ()
    assert report.is_empty
    # every question was asked: 李医生's authorization and three logged requests, 赵医生's two
    # authorizations at 甲诊所; 孙医生's authorization at 乙医院
    counts = {i.name: i.questions for i in report.institutions}
    assert counts == {"甲诊所": 6, "乙医院": 1}
    assert {c.province for c in report.comparisons} == {"湖南", "北京"}
    beijing = next(c for c in report.comparisons if c.province == "北京")
    assert (beijing.before, beijing.after) == (
        "全国基线 v1 + 北京 v1 + 机构规范模板 v1",
        "全国基线 v2 + 北京 v1 + 机构规范模板 v1",
    )


def test_a_removed_procedure_is_reported_as_no_longer_in_the_catalog(scene, pack_copy):
    lines = (Path(__file__).resolve().parent.parent / "packs/cn-national/procedure_catalog.csv").read_text(
        encoding="utf-8"
    )
    brow = next(line for line in lines.splitlines() if line.startswith("surg-brow-lift,"))
    version = candidate(pack_copy, csv=((brow + "\n", ""),))
    report = impact.assess(version, on=TODAY)

    assert [(r.procedure_code, r.direction) for r in report.rows] == [("surg-brow-lift", Direction.TIGHTER)]
    reason = report.rows[0].added[0]
    assert reason.code == impact.NOT_IN_CATALOG
    assert "surg-brow-lift" in impact.reason_text(reason)


# ---- provinces ----------------------------------------------------------------------------------

BJ_DERM_10_YEARS = (
    "  - id: PR-02.cosmetic_dermatology\n"
    "    set: {min_title: attending, training_min_years: 1, periodic_assessment_required: true, "
    "registered_in_province: true}",
    "  - id: PR-02.cosmetic_dermatology\n"
    "    set: {min_years: 10, min_title: attending, training_min_years: 1, periodic_assessment_required: true, "
    "registered_in_province: true}",
)


def test_a_provincial_version_affects_only_its_province(scene, pack_copy):
    version = candidate(pack_copy, BJ_DERM_10_YEARS, code="cn-bj")
    report = impact.assess(version, on=TODAY)

    assert report.province == "北京"
    assert [i.name for i in report.institutions] == ["乙医院"]  # 甲诊所 (湖南) is not even asked
    assert [(r.institution_name, r.practitioner_name, r.direction) for r in report.rows] == [
        ("乙医院", "孙医生", Direction.TIGHTER)
    ]
    reason = report.rows[0].added[0]
    assert reason.code == "CHIEF_FILING_YEARS_SHORT"
    assert (reason.rule.pack, reason.rule.version) == ("cn-bj", 2)
    assert [(c.before, c.after) for c in report.comparisons] == [
        ("全国基线 v1 + 北京 v1 + 机构规范模板 v1", "全国基线 v1 + 北京 v2 + 机构规范模板 v1")
    ]


def test_a_national_version_affects_every_province(scene, pack_copy):
    version = candidate(pack_copy, ("min_years: 3", "min_years: 10"))  # PR-02.cosmetic_dermatology
    report = impact.assess(version, on=TODAY)

    flipped = {(r.institution_name, r.practitioner_name, r.procedure_code, r.items) for r in report.rows}
    # 李医生: the authorization scope and the two allowed requests (the 250 U one was already denied)
    assert {(i, p) for i, p, _c, _x in flipped} == {("甲诊所", "李医生"), ("乙医院", "孙医生")}
    assert len(report.rows) == 4
    assert all(r.direction == Direction.TIGHTER for r in report.rows)
    assert all("CHIEF_FILING_YEARS_SHORT" in [x.code for x in r.added] for r in report.rows)


# ---- published versions, restriction ------------------------------------------------------------


def test_a_published_future_version_is_compared_with_the_version_it_replaces(scene, pack_copy):
    draft = candidate(pack_copy, LIMIT_150, code=TEMPLATE)
    published = actions.publish_version(
        SYSTEM, "inst-template", draft.version, effective_from=TODAY.replace(day=10)
    ).version
    today = impact.assess(published, on=TODAY)
    on_the_day = impact.assess(published, on=TODAY.replace(day=10))

    assert [r.direction for r in today.rows] == [Direction.TIGHTER]
    assert [(c.before, c.after) for c in on_the_day.comparisons if c.province == "湖南"] == [
        ("全国基线 v1 + 机构规范模板 v1", "全国基线 v1 + 机构规范模板 v2")
    ]
    assert len(on_the_day.rows) == 1  # the 2026-03-03 request is within 90 days of the 10th


def test_the_look_back_window_bounds_the_logged_requests(scene, pack_copy):
    version = candidate(pack_copy, LIMIT_150, code=TEMPLATE)
    later = TODAY.replace(month=7)  # > 90 days after the logged requests
    assert impact.assess(version, on=later).rows == ()
    assert len(impact.assess(version, on=later, lookback_days=200).rows) == 1


def test_restricted_to_shows_only_the_viewers_institutions(scene, pack_copy, world):
    version = candidate(pack_copy, ("min_years: 3", "min_years: 10"))
    report = impact.assess(version, on=TODAY)
    jia_only = report.restricted_to(frozenset({world.org_jia.pk}))
    assert {r.institution_name for r in jia_only.rows} == {"甲诊所"}
    assert [i.name for i in jia_only.institutions] == ["甲诊所"]
    assert report.restricted_to(None) is report


# ---- facts, queries, cache ----------------------------------------------------------------------


def test_bulk_facts_are_the_loaders_facts(scene):
    c = scene.clinic
    req = c.request(products=(snapshot_product(c.lot.pk, 180),))
    loaded = snapshot.load(SYSTEM, req, use_cache=False)
    people = impact._people_facts([c.li.pk])
    auths = impact._authorization_facts([c.li.pk])
    rows = list(type(c.jia).objects.filter(pk=c.jia.pk).order_by().values_list(*snapshot.INSTITUTION_COLUMNS))
    inst = impact._institution_facts(snapshot.InstitutionRow(*rows[0]))

    assert people[c.li.pk] == loaded.practitioner
    assert auths[(c.li.pk, c.jia.pk)] == loaded.authorizations
    assert inst == loaded.institution


def _more_doctors(c: Clinic, first: int, count: int) -> None:
    for n in range(first, first + count):
        doc = make_doctor(c.jia, f"医生{n:02d}")
        authorize(c.jia, doc)
        authorize(c.jia, doc, "product", product_brand="衡力")
        authorize(c.jia, doc, "device", device_model="热玛吉-FLX")
        log_request(c, 100 + 5 * n, practitioner_id=doc.pk)  # over 150 U from n = 11


def _queries(version: RulePackVersion) -> tuple[int, impact.ImpactReport]:
    snapshot.clear()
    with CaptureQueriesContext(connection) as ctx:
        report = impact.assess(version, on=TODAY)
    return len(ctx.captured_queries), report


def test_query_count_does_not_grow_with_the_population(scene, pack_copy, django_assert_max_num_queries):
    version = candidate(pack_copy, LIMIT_150, code=TEMPLATE)
    _more_doctors(scene.clinic, 1, 2)
    small, small_report = _queries(version)
    _more_doctors(scene.clinic, 3, 12)
    large, large_report = _queries(version)

    assert large_report.questions > small_report.questions + 20
    assert len(large_report.rows) == len(small_report.rows) + 4
    assert small == large
    # institutions 1, versions in force 1, rules of the packs compared 6 (湖南: national before and after;
    # 北京: national + overlay before and after), authorizations 1, decision log 1, the institutions' shared
    # technology authorizations 1, then per chunk of
    # PEOPLE_CHUNK practitioners: practitioners, qualifications, sites, authorizations, lots, devices
    with django_assert_max_num_queries(16):
        impact.assess(version, on=TODAY)


def test_report_for_is_cached_until_the_data_changes(scene, pack_copy, monkeypatch, world):
    version = candidate(pack_copy, LIMIT_150, code=TEMPLATE)
    calls = []
    real = impact.assess

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(impact, "assess", counting)
    first = impact.report_for(version, on=TODAY)
    second = impact.report_for(version, on=TODAY)
    assert len(calls) == 1
    assert second.rows == first.rows

    impact.report_for(version, on=TODAY, refresh=True)
    assert len(calls) == 2

    authz_actions.change_status(SYSTEM, scene.clinic.auths["procedure"].pk, action="suspend", reason="调查")
    after = impact.report_for(version, on=TODAY)
    assert len(calls) == 3
    assert after.rows == ()  # suspended: denied under both packs


# ---- Excel --------------------------------------------------------------------------------------


def test_the_workbook_has_a_summary_and_a_detail_sheet(scene, pack_copy):
    import io

    from openpyxl import load_workbook

    report = impact.assess(candidate(pack_copy, LIMIT_150, code=TEMPLATE), on=TODAY)
    wb = load_workbook(io.BytesIO(impact.workbook(report)))

    assert wb.sheetnames == ["汇总", "明细"]
    summary = [tuple(r) for r in wb["汇总"].iter_rows(values_only=True)]
    assert ("规则包版本", "inst-template v2") in [r[:2] for r in summary]
    header = next(r for r in summary if r and r[0] == "机构")
    jia = next(r for r in summary if r and r[0] == "甲诊所")
    assert jia[header.index("允许 → 不允许")] == 1
    assert jia[header.index("评估问题数")] == 6
    assert jia[-1] == 1

    detail = [tuple(r) for r in wb["明细"].iter_rows(values_only=True)]
    assert len(detail) == 2
    head, row = detail
    values = dict(zip(head, row, strict=True))
    assert values["机构"] == "甲诊所"
    assert values["执业人员"] == "李医生"
    assert values["项目编码"] == BOTOX
    assert values["变更后"] == "不允许"
    assert values["变化"] == "允许 → 不允许"
    assert values["新增原因"].startswith("DOSE_OVER_LIMIT:")
    assert "150" in values["新增原因"]
    assert values["规则依据"] == "机构规范模板 v2 · 《2026年医疗美容服务年度工作计划(某医疗美容机构)》一(二)2"
    assert values["授权"] == f"#{scene.clinic.auths['procedure'].pk}"


# ---- technology admission ---------------------------------------------------------------------------

THREAD = (
    "derm-thread-lift"  # outside the 2009 catalog: needs a technology authorization (SP-02.new-technology)
)


def test_an_institution_wide_technology_authorization_is_read_like_the_loader(scene, pack_copy):
    """A removed thread lift flips 李医生 only because 甲诊所's own technology admission allowed it before;
    without that admission (loaded for everyone there, as the engine's loader does) it was already denied."""
    c = scene.clinic
    authorize(c.jia, c.li, procedure_code=THREAD)
    tech = authorize(
        c.jia,
        c.li,
        "technology",
        practitioner_id=None,
        grantee_institution_id=c.jia.pk,  # institution-wide: granted to itself, no practitioner
        technology_name="埋线提升",
        technology_kind="new",
        procedure_code=THREAD,
    )
    req = c.request(procedure_code=THREAD)
    loaded = snapshot.load(SYSTEM, req, use_cache=False)
    assert tech.pk in {a.id for a in loaded.authorizations}
    shared = impact._shared_technology([c.jia.pk, c.yi.pk])
    own = impact._authorization_facts([c.li.pk])[(c.li.pk, c.jia.pk)]
    assert impact._applying(own, shared[c.jia.pk]) == loaded.authorizations
    assert c.yi.pk not in shared

    lines = (Path(__file__).resolve().parent.parent / "packs/cn-national/procedure_catalog.csv").read_text(
        encoding="utf-8"
    )
    thread = next(line for line in lines.splitlines() if line.startswith(f"{THREAD},"))
    version = candidate(
        pack_copy,
        (
            "procedures: [derm-thread-lift, derm-dermal-ha-hydration]",
            "procedures: [derm-dermal-ha-hydration]",
        ),
        csv=((thread + "\n", ""),),
    )
    report = impact.assess(version, on=TODAY)

    rows = [(r.practitioner_name, r.procedure_code, r.before, r.after) for r in report.rows]
    assert rows == [("李医生", THREAD, Outcome.ALLOW, Outcome.DENY)]
