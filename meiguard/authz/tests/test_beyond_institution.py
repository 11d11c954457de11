"""A qualification authorization the institution cannot offer (subject not registered, grade above what the
institution may perform, IN-02/IN-03) is kept only as a draft with the engine's reasons; it never takes effect.

甲诊所 is a 湖南 outpatient department with 麻醉科: grade 2, subjects 美容外科 and 美容皮肤科.
"""

import datetime as dt
import json

import pytest

from meiguard.audit.models import AuditEntry
from meiguard.authz import actions
from meiguard.authz.models import Authorization
from meiguard.core.errors import ActionError

GRADE_3 = "surg-full-face-neck-lift"
GRADE_1 = "surg-double-eyelid"
FROM, UNTIL = dt.date(2026, 1, 1), dt.date(2026, 12, 31)


def _data(clinic, **scope):
    data = {
        "kind": "qualification",
        "practitioner_id": clinic.li.pk,
        "valid_from": FROM,
        "valid_until": UNTIL,
    }
    data.update(scope)
    return data


def _create(clinic, *, activate=False, **scope):
    return actions.create_authorization(
        clinic.world.actor("zhao"),
        institution_id=clinic.jia.pk,
        data=_data(clinic, **scope),
        activate=activate,
    )


def _audit_count() -> int:
    return AuditEntry.objects.filter(object_type="authz.authorization").count()


# ---- the check -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "codes"),
    [
        ({"procedure_code": GRADE_1}, []),
        ({"procedure_code": "derm-filler-injection"}, []),
        ({"procedure_code": GRADE_3}, ["PROCEDURE_GRADE_EXCEEDS_INSTITUTION"]),
        ({"subject": "cosmetic_dentistry"}, ["SUBJECT_NOT_REGISTERED"]),
        ({"subject": "cosmetic_surgery", "max_grade": 2}, []),
        ({"subject": "cosmetic_surgery"}, []),  # grade-1/2 items can be offered; the engine denies the rest
        ({"subject": "cosmetic_surgery", "max_grade": 3}, ["PROCEDURE_GRADE_EXCEEDS_INSTITUTION"]),
        ({"procedure_category": "面部轮廓"}, []),  # grade 1 and grade 4 items
        ({"procedure_category": "面部除皱", "max_grade": 2}, []),
        ({"procedure_category": "面部除皱", "max_grade": 4}, ["PROCEDURE_GRADE_EXCEEDS_INSTITUTION"]),
    ],
)
def test_institution_scope_reasons(clinic, scope, codes):
    reasons = actions.institution_scope_reasons(clinic.jia, on=FROM, **scope)
    assert sorted({r.code for r in reasons}) == codes


def test_every_item_beyond_the_grade_is_named(clinic):
    reasons = actions.institution_scope_reasons(
        clinic.jia, on=FROM, procedure_category="面部除皱", max_grade=3
    )
    assert {r.fact("procedure") for r in reasons} == {"surg-full-face-neck-lift"}
    assert all(r.fact("permitted_grade") == "2" and r.rule.rule_id.startswith("IN-03") for r in reasons)


# ---- actions ---------------------------------------------------------------------------------


def test_a_draft_beyond_the_institution_is_saved_with_its_reasons(clinic):
    auth = _create(clinic, procedure_code=GRADE_3)
    assert auth.status == "draft"
    [reason] = actions.authorization_scope_reasons(auth)
    assert reason.code == "PROCEDURE_GRADE_EXCEEDS_INSTITUTION"
    created = AuditEntry.objects.get(object_id=str(auth.pk), action="authz.authorization.created")
    assert "PROCEDURE_GRADE_EXCEEDS_INSTITUTION" in created.reason


def test_creating_it_active_is_refused_and_nothing_is_written(clinic):
    before, audits = Authorization.objects.count(), _audit_count()
    with pytest.raises(ActionError) as exc:
        _create(clinic, activate=True, procedure_code=GRADE_3)
    err = exc.value
    assert (err.code, err.status, err.field) == ("AUTHORIZATION_BEYOND_INSTITUTION", 409, "procedure_code")
    assert "3 级手术,超出机构可开展的 2 级" in str(err.message)
    assert [d["code"] for d in err.details] == ["PROCEDURE_GRADE_EXCEEDS_INSTITUTION"]
    assert Authorization.objects.count() == before and _audit_count() == audits


def test_activating_the_draft_is_refused(clinic):
    auth = _create(clinic, subject="cosmetic_dentistry")
    audits = _audit_count()
    with pytest.raises(ActionError) as exc:
        actions.change_status(clinic.world.actor("zhao"), auth.pk, action="activate")
    assert exc.value.code == "AUTHORIZATION_BEYOND_INSTITUTION" and exc.value.field == "subject"
    auth.refresh_from_db()
    assert auth.status == "draft" and _audit_count() == audits


def test_a_max_grade_above_the_institution_is_refused_on_that_field(clinic):
    with pytest.raises(ActionError) as exc:
        _create(clinic, activate=True, procedure_category="面部除皱", max_grade=4)
    assert exc.value.field == "max_grade"


def test_reinstating_is_refused_once_the_institution_no_longer_offers_it(clinic):
    zhao = clinic.world.actor("zhao")
    auth = _create(clinic, activate=True, subject="cosmetic_surgery", max_grade=1)
    actions.change_status(zhao, auth.pk, action="suspend", reason="核查")
    clinic.jia.subjects = ["cosmetic_dermatology"]
    clinic.jia.save(update_fields=["subjects"])
    with pytest.raises(ActionError) as exc:
        actions.change_status(zhao, auth.pk, action="reinstate", reason="核查无误")
    assert exc.value.code == "AUTHORIZATION_BEYOND_INSTITUTION"
    auth.refresh_from_db()
    assert auth.status == "suspended"


def test_an_offerable_scope_stays_allowed(clinic):
    auth = _create(clinic, activate=True, procedure_code=GRADE_1)
    assert auth.status == "active" and actions.authorization_scope_reasons(auth) == ()
    cat = _create(clinic, activate=True, procedure_category="面部轮廓")
    assert cat.status == "active"


def test_other_kinds_are_not_judged_by_scope(clinic):
    tech = actions.create_authorization(
        clinic.world.actor("zhao"),
        institution_id=clinic.jia.pk,
        data={
            "kind": "technology",
            "grantee_institution_id": clinic.jia.pk,
            "technology_name": "颧骨缩小新术式",
            "technology_kind": "new",
            "valid_from": FROM,
        },
        activate=True,
    )
    assert tech.status == "active"


# ---- API -------------------------------------------------------------------------------------


def _post(c, payload):
    return c.post("/api/v1/authorizations", data=json.dumps(payload), content_type="application/json")


def _payload(clinic, **scope):
    body = {
        "institution_id": clinic.jia.pk,
        "kind": "qualification",
        "practitioner_id": clinic.li.pk,
        "valid_from": "2026-01-01",
        "valid_until": "2026-12-31",
    }
    body.update(scope)
    return body


def test_api_returns_the_reasons_with_a_draft(clinic):
    c = clinic.world.client("zhao")
    resp = _post(c, _payload(clinic, procedure_code=GRADE_3))
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["status"] == "draft"
    [reason] = body["beyond_institution"]
    assert reason["code"] == "PROCEDURE_GRADE_EXCEEDS_INSTITUTION" and reason["rule"]["rule_id"].startswith(
        "IN-03"
    )
    assert set(reason["messages"]) == {"zh-hans", "en"}
    got = c.get(f"/api/v1/authorizations/{body['id']}").json()
    assert [r["code"] for r in got["beyond_institution"]] == ["PROCEDURE_GRADE_EXCEEDS_INSTITUTION"]


def test_api_refuses_activation_with_4xx_and_every_reason(clinic):
    c = clinic.world.client("zhao")
    before = Authorization.objects.count()
    resp = _post(c, _payload(clinic, subject="cosmetic_dentistry", activate=True))
    assert resp.status_code == 409
    body = resp.json()
    assert body["code"] == "AUTHORIZATION_BEYOND_INSTITUTION" and body["field"] == "subject"
    assert [e["code"] for e in body["errors"]] == ["SUBJECT_NOT_REGISTERED"]
    assert "机构不能开展" in body["message"]
    assert Authorization.objects.count() == before

    en = c.post(
        "/api/v1/authorizations",
        data=json.dumps(_payload(clinic, subject="cosmetic_dentistry", activate=True)),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    ).json()
    assert "cannot offer" in en["message"]

    draft = _post(c, _payload(clinic, subject="cosmetic_dentistry")).json()
    resp = c.post(
        f"/api/v1/authorizations/{draft['id']}/transitions",
        data=json.dumps({"action": "activate"}),
        content_type="application/json",
    )
    assert resp.status_code == 409 and resp.json()["code"] == "AUTHORIZATION_BEYOND_INSTITUTION"


def test_api_allowed_case_has_no_reasons(clinic):
    resp = _post(clinic.world.client("zhao"), _payload(clinic, procedure_code=GRADE_1, activate=True))
    assert resp.status_code == 201
    assert resp.json()["status"] == "active" and resp.json()["beyond_institution"] == []


# ---- pages -----------------------------------------------------------------------------------


def _form(clinic, **extra):
    data = {
        "institution": clinic.jia.pk,
        "kind": "qualification",
        "practitioner": clinic.li.pk,
        "valid_from": "2026-01-01",
        "valid_until": "2026-12-31",
    }
    data.update(extra)
    return data


def test_page_refuses_to_activate_and_shows_the_reasons_on_the_field(clinic):
    c = clinic.world.client("zhao")
    before = Authorization.objects.count()
    r = c.post("/authz/authorizations/new/", _form(clinic, procedure_code=GRADE_3, activate="on"))
    assert r.status_code == 200
    html = r.content.decode()
    assert "机构不能开展该授权范围内的项目" in html and "超出机构可开展的 2 级" in html
    assert Authorization.objects.count() == before


def test_page_saves_a_draft_and_its_page_explains_why_it_cannot_take_effect(clinic):
    c = clinic.world.client("zhao")
    r = c.post("/authz/authorizations/new/", _form(clinic, procedure_code=GRADE_3), follow=True)
    assert r.status_code == 200
    html = r.content.decode()
    auth = Authorization.objects.get(procedure_code=GRADE_3)
    assert auth.status == "draft"
    assert "授权已保存为草稿" in html and "AUTHORIZATION_BEYOND_INSTITUTION" in html
    assert "超出机构可开展的 2 级" in html
    r = c.post(f"/authz/authorizations/{auth.pk}/transition/", {"action": "activate"})
    assert r.status_code == 200 and "机构不能开展该授权范围内的项目" in r.content.decode()
    auth.refresh_from_db()
    assert auth.status == "draft"


def test_page_for_an_offerable_scope_has_no_warning(clinic):
    html = (
        clinic.world.client("zhao")
        .get(f"/authz/authorizations/{clinic.auths['procedure'].pk}/")
        .content.decode()
    )
    assert "AUTHORIZATION_BEYOND_INSTITUTION" not in html
