"""Anaesthetist, technology admission and the Beijing extras through the loader, API, CLI, page and codec."""

from __future__ import annotations

import json
from dataclasses import replace
from io import StringIO

import pytest
from django.core.management import call_command

from meiguard.authz import snapshot
from meiguard.authz.codec import decode, encode, snapshot_digest
from meiguard.authz.facts import DecisionRequest, Snapshot
from meiguard.authz.models import DecisionLog
from meiguard.authz.policy import Outcome, decide
from meiguard.core.errors import FieldErrors
from meiguard.registry import actions as reg
from meiguard.rules.services import resolve

from .builders import allowed_case, doctor
from .conftest import SYSTEM, TODAY, authorize, make_doctor
from .test_loader_queries import COLD_WITHOUT_PRODUCTS

BREAST = "surg-breast-augmentation"  # grade 2, epidural-iv: needs an anaesthetist (PG-01.grade-2)
THREAD = (
    "derm-thread-lift"  # outside the 2009 catalog: needs a technology authorization (SP-02.new-technology)
)


@pytest.fixture
def surgery(clinic):
    surgeon = make_doctor(clinic.jia, "外科医生", subject="cosmetic_surgery", scope="外科", trainings=())
    authorize(clinic.jia, surgeon, procedure_code=BREAST)
    anesthetist = make_doctor(clinic.jia, "麻醉医生", scope="麻醉科", trainings=())
    return surgeon, anesthetist


def _req(clinic, **changes):
    return clinic.request(products=(), device_ids=(), **changes)


def _post(client, path, body, **headers):
    return client.post(path, data=json.dumps(body), content_type="application/json", **headers)


# ---- anaesthesia --------------------------------------------------------------------------------


def test_the_anaesthetist_is_loaded_in_the_same_queries(clinic, surgery, django_assert_num_queries):
    surgeon, anesthetist = surgery
    actor = clinic.world.actor("li")
    req = _req(clinic, practitioner_id=surgeon.pk, procedure_code=BREAST, anesthetist_id=anesthetist.pk)
    snapshot.load(actor, req)  # warm the rule-pack memo
    snapshot.clear()
    with django_assert_num_queries(COLD_WITHOUT_PRODUCTS):
        snap = snapshot.load(actor, req)
    assert snap.anesthetist is not None and snap.anesthetist.name == "麻醉医生"
    assert snap.institution.has_anesthesiology
    assert [a.grade for a in snap.pack.anesthesia_rules] == [1, 2, 3, 4]
    assert decide(req, snap).outcome == Outcome.ALLOW


def test_grade_2_without_an_anaesthetist_is_denied_citing_pg01(clinic, surgery):
    surgeon, _ = surgery
    req = _req(clinic, practitioner_id=surgeon.pk, procedure_code=BREAST)
    decision = decide(req, snapshot.load(clinic.world.actor("li"), req, use_cache=False))
    (reason,) = decision.reasons
    assert reason.code == "ANESTHETIST_REQUIRED"
    assert (reason.rule.pack, reason.rule.rule_id) == ("cn-national", "PG-01.grade-2")
    assert reason.fact("anesthesia") == "epidural-iv"


def test_an_institution_without_anaesthesiology_is_denied(clinic, surgery):
    surgeon, anesthetist = surgery
    reg.update_institution(SYSTEM, clinic.jia.pk, has_anesthesiology=False)
    req = _req(clinic, practitioner_id=surgeon.pk, procedure_code=BREAST, anesthetist_id=anesthetist.pk)
    decision = decide(req, snapshot.load(clinic.world.actor("li"), req, use_cache=False))
    # 门诊部 without 麻醉科 is also only grade 1 (IN-03): both rules speak
    assert set(decision.codes()) == {
        "ANESTHESIOLOGY_DEPARTMENT_MISSING",
        "PROCEDURE_GRADE_EXCEEDS_INSTITUTION",
    }


def test_api_takes_the_anaesthetist_and_the_anaesthesia(clinic, surgery):
    surgeon, anesthetist = surgery
    client = clinic.world.client("li")
    body = clinic.payload(
        practitioner_id=surgeon.pk, procedure_code=BREAST, products=[], device_ids=[], anesthesia="general"
    )
    r = _post(client, "/api/v1/decisions", body)
    assert r.status_code == 200, r.content
    reasons = r.json()["reasons"]
    assert [x["code"] for x in reasons] == ["ANESTHETIST_REQUIRED"]
    assert "气管插管全麻" in reasons[0]["message"]  # the label, not the code
    r = _post(client, "/api/v1/decisions", {**body, "anesthetist_id": anesthetist.pk})
    assert r.json()["outcome"] == "allow", r.content
    row = DecisionLog.objects.order_by("-pk").first()
    assert row is not None
    assert (row.request["anesthetist_id"], row.request["anesthesia"]) == (anesthetist.pk, "general")


def test_api_refuses_an_unknown_anaesthesia(clinic):
    r = _post(clinic.world.client("li"), "/api/v1/decisions", clinic.payload(anesthesia="hypnosis"))
    assert r.status_code == 422
    assert not DecisionLog.objects.exists()


@pytest.mark.parametrize("which", ["foreign", "unknown"])
def test_a_foreign_or_unknown_anaesthetist_is_a_404_naming_the_field(clinic, which):
    pk = clinic.sun_doctor.pk if which == "foreign" else 987654
    r = _post(clinic.world.client("li"), "/api/v1/decisions", clinic.payload(anesthetist_id=pk))
    assert r.status_code == 404
    assert r.json()["field"] == "anesthetist_id"


def test_batch_takes_the_anaesthetist(clinic, surgery):
    surgeon, anesthetist = surgery
    base = clinic.payload(practitioner_id=surgeon.pk, procedure_code=BREAST, products=[], device_ids=[])
    r = _post(
        clinic.world.client("li"),
        "/api/v1/decisions/batch",
        {"requests": [base, {**base, "anesthetist_id": anesthetist.pk}, {**base, "anesthetist_id": 987654}]},
    )
    results = r.json()["results"]
    assert [x["decision"]["outcome"] if x["decision"] else None for x in results] == ["deny", "allow", None]
    assert results[2]["error"]["field"] == "anesthetist_id"


def test_cli_takes_anesthetist_and_anesthesia(clinic, surgery):
    surgeon, anesthetist = surgery
    args = [
        "--institution", str(clinic.jia.pk), "--practitioner", str(surgeon.pk), "--procedure", BREAST,
        "--at", "2026-03-03T10:00:00+08:00", "--anesthesia", "general",
    ]  # fmt: skip
    out = StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("decide", *args, stdout=out)
    assert exc.value.code == 1
    assert "ANESTHETIST_REQUIRED" in out.getvalue() and "PG-01.grade-2" in out.getvalue()
    out = StringIO()
    call_command("decide", *args, "--anesthetist", str(anesthetist.pk), stdout=out)
    assert "(allow)" in out.getvalue()
    assert DecisionLog.objects.order_by("-pk").first().request["anesthetist_id"] == anesthetist.pk  # type: ignore[union-attr]


def test_check_page_offers_the_institutions_anaesthetists(clinic, surgery):
    surgeon, anesthetist = surgery
    c = clinic.world.client("li")
    html = c.get(f"/authz/check/fields/?institution={clinic.jia.pk}", HTTP_HX_REQUEST="true").content.decode()
    select = html[
        html.index('name="anesthetist"') : html.index("</select>", html.index('name="anesthetist"'))
    ]
    assert "麻醉医生" in select and "外科医生" not in select
    form = {
        "institution": str(clinic.jia.pk),
        "practitioner": str(surgeon.pk),
        "procedure": BREAST,
        "at": "2026-03-03T10:00",
        "anesthetist": str(anesthetist.pk),
        "anesthesia": "epidural-iv",
    }
    r = c.post("/authz/check/", form, HTTP_HX_REQUEST="true")
    assert 'class="badge ok"' in r.content.decode()
    row = DecisionLog.objects.get()
    assert (row.request["anesthetist_id"], row.request["anesthesia"]) == (anesthetist.pk, "epidural-iv")
    detail = c.get(f"/authz/decisions/{row.pk}/").content.decode()
    assert "麻醉医生" in detail


# ---- technology admission ---------------------------------------------------------------------


def test_a_listed_technology_needs_a_technology_authorization(clinic, django_assert_num_queries):
    authorize(clinic.jia, clinic.li, procedure_code=THREAD)
    actor = clinic.world.actor("li")
    req = _req(clinic, procedure_code=THREAD)
    (reason,) = decide(req, snapshot.load(actor, req, use_cache=False)).reasons
    assert (reason.code, reason.rule.rule_id) == ("TECHNOLOGY_AUTHORIZATION_MISSING", "SP-02.new-technology")

    # institution-wide (granted to itself, no practitioner), loaded in the same authorizations query
    tech = authorize(
        clinic.jia,
        clinic.li,
        "technology",
        practitioner_id=None,
        grantee_institution_id=clinic.jia.pk,
        technology_name="埋线提升",
        technology_kind="new",
        procedure_code=THREAD,
    )
    snapshot.load(actor, req, use_cache=False)
    snapshot.clear()
    with django_assert_num_queries(COLD_WITHOUT_PRODUCTS):
        snap = snapshot.load(actor, req)
    assert tech.pk in {a.id for a in snap.authorizations}
    assert decide(req, snap).outcome == Outcome.ALLOW

    from meiguard.authz import actions

    actions.change_status(SYSTEM, tech.pk, action="suspend", reason="复核")
    codes = decide(req, snapshot.load(actor, req, use_cache=False)).codes()
    assert codes == ("TECHNOLOGY_AUTHORIZATION_SUSPENDED",)


def test_a_technology_transferred_by_another_institution_applies_at_the_grantee(clinic):
    authorize(clinic.jia, clinic.li, procedure_code=THREAD)
    authorize(
        clinic.yi,
        clinic.sun_doctor,
        "technology",
        practitioner_id=None,
        grantee_institution_id=clinic.jia.pk,
        technology_name="埋线提升",
        technology_kind="transfer",
        procedure_code=THREAD,
    )
    req = _req(clinic, procedure_code=THREAD)
    snap = snapshot.load(clinic.world.actor("li"), req, use_cache=False)
    assert [a.institution_id for a in snap.authorizations if a.kind == "technology"] == [clinic.jia.pk]
    assert decide(req, snap).outcome == Outcome.ALLOW


# ---- Beijing extras (PR-05) on the real packs ---------------------------------------------------


def test_the_same_doctor_is_allowed_nationally_and_denied_in_beijing(clinic):
    code = "derm-botulinum-toxin-injection"
    jia = snapshot.InstitutionRow(
        *type(clinic.jia)
        .objects.filter(pk=clinic.jia.pk)
        .order_by()
        .values_list(*snapshot.INSTITUTION_COLUMNS)[0]
    )
    req, snap = allowed_case()
    national = snapshot.pack_facts(resolve("湖南", TODAY), jia, code)
    beijing = snapshot.pack_facts(resolve("北京", TODAY), jia, code)
    assert national.chief is not None and beijing.chief is not None
    assert (national.chief.periodic_assessment_required, beijing.chief.periodic_assessment_required) == (
        False,
        True,
    )
    assert beijing.chief.rule.pack == "cn-bj"
    # a 主治 dermatology 主诊 registered in Beijing, with no PR-05 records
    who = doctor(main_province="北京")
    nat = replace(snap, pack=replace(national, dose_limits=snap.pack.dose_limits), practitioner=who)
    bj = replace(
        nat,
        pack=replace(beijing, dose_limits=snap.pack.dose_limits),
        institution=replace(snap.institution, province="北京"),
    )
    req = replace(req, products=(), device_ids=())
    assert decide(req, nat).outcome == Outcome.ALLOW
    decision = decide(req, bj)
    assert set(decision.codes()) == {"PERIODIC_ASSESSMENT_NOT_CURRENT", "CHIEF_TRAINING_SHORT"}
    assert {r.rule.rule_id for r in decision.reasons} == {"PR-02.cosmetic_dermatology"}
    assert {r.rule.pack for r in decision.reasons} == {"cn-bj"}


def test_registry_validates_the_pr05_kinds(clinic):
    with pytest.raises(FieldErrors) as exc:
        reg.create_qualification(SYSTEM, practitioner_id=clinic.sun_doctor.pk, kind="periodic_assessment")
    assert "valid_until" in exc.value.errors
    with pytest.raises(FieldErrors) as exc:
        reg.create_qualification(SYSTEM, practitioner_id=clinic.sun_doctor.pk, kind="aesthetic_training")
    assert "duration_months" in exc.value.errors
    q = reg.create_qualification(
        SYSTEM, practitioner_id=clinic.sun_doctor.pk, kind="aesthetic_clinical_work", duration_months=14
    )
    assert q.duration_months == 14


# ---- codec: rows stored before these fields existed --------------------------------------------


def test_old_rows_without_the_new_fields_still_decode(clinic):
    req = _req(clinic)
    loaded = snapshot.load_for_log(clinic.world.actor("li"), req, use_cache=False)
    data = json.loads(json.dumps(loaded.encoded))
    assert "anesthetist" not in data  # only stored when there is one: old digests stay valid
    assert snapshot_digest(data) == loaded.digest
    for key in ("has_anesthesiology",):
        data["institution"].pop(key)
    for key in ("anesthesia_rules", "technology_rule", "nurse_min_years", "verification_notice_months"):
        data["pack"].pop(key)
    data["pack"]["procedure"].pop("anesthesia_max")
    for key in ("practising_since", "main_province"):
        data["practitioner"].pop(key)
    old = decode(Snapshot, data)
    assert old.anesthetist is None and old.institution.has_anesthesiology is False
    assert old.pack.anesthesia_rules == () and old.pack.technology_rule is None
    request = encode(req)
    request.pop("anesthetist_id")
    request.pop("anesthesia")
    old_req = decode(DecisionRequest, request)
    assert (old_req.anesthetist_id, old_req.anesthesia) == (None, None)
    assert decide(old_req, old).outcome == Outcome.ALLOW


def test_a_new_row_with_an_anaesthetist_round_trips(clinic, surgery):
    surgeon, anesthetist = surgery
    req = _req(clinic, practitioner_id=surgeon.pk, procedure_code=BREAST, anesthetist_id=anesthetist.pk)
    loaded = snapshot.load_for_log(clinic.world.actor("li"), req, use_cache=False)
    data = json.loads(json.dumps(loaded.encoded))
    assert snapshot_digest(data) == loaded.digest
    assert decode(Snapshot, data) == loaded.snapshot
    assert decode(DecisionRequest, json.loads(json.dumps(encode(req)))) == req
