"""Who may read and run reviews: overseeing auditors run association reviews, the institution runs internal
ones; anyone else gets a 404 for what they cannot see and a 403 for what they can see but not run."""

from __future__ import annotations

import json

import pytest

from meiguard.core.access import build_actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.choices import OrganizationKind, Role
from meiguard.core.errors import ActionError
from meiguard.core.models import Membership, Organization, User
from meiguard.reviews import actions, queries
from meiguard.reviews.models import Campaign

from .conftest import TODAY


@pytest.fixture
def other_auditor(world):
    """An auditor of a second oversight body that oversees only 乙."""
    body = Organization.objects.create(name="北京市医学会", kind=OrganizationKind.OVERSIGHT)
    body.oversees.add(world.org_yi)
    user = User.objects.create_user(username="feng", password="pw-feng-123456")
    Membership.objects.create(user=user, organization=body, role=Role.AUDITOR)
    return user


def test_the_overseeing_auditor_runs_an_association_review(clinic, campaign):
    qian = clinic.world.actor("qian")
    assert campaign.created_by_id == clinic.world.users["qian"].pk
    result = actions.rebuild_checklist(qian, campaign.pk, today=TODAY)
    assert result.created > 0


def test_the_auditor_cannot_run_the_institutions_internal_review(clinic):
    with pytest.raises(ActionError) as exc:
        actions.create_campaign(
            clinic.world.actor("qian"), institution_id=clinic.jia.pk, period="2026-Q1", kind="internal"
        )
    assert (exc.value.code, exc.value.status) == ("FORBIDDEN", 403)
    assert "机构管理员或授权专员" in str(exc.value.message)


@pytest.mark.parametrize("name", ["wang", "zhao"])
def test_admins_and_compliance_officers_run_internal_reviews_only(clinic, name):
    actor = clinic.world.actor(name)
    internal = actions.create_campaign(
        actor, institution_id=clinic.jia.pk, period="2026-Q1", kind="internal", today=TODAY
    )
    assert internal.items.count() > 0
    with pytest.raises(ActionError) as exc:
        actions.create_campaign(actor, institution_id=clinic.jia.pk, period="2026-Q1", kind="association")
    assert exc.value.status == 403 and "审计员" in str(exc.value.message)


def test_the_institution_cannot_change_the_associations_review(clinic, campaign):
    for name in ("wang", "li"):
        with pytest.raises(ActionError) as exc:
            actions.rebuild_checklist(clinic.world.actor(name), campaign.pk, today=TODAY)
        assert exc.value.status == 403
        with pytest.raises(ActionError):
            actions.raise_finding(clinic.world.actor(name), campaign.pk, description="x")


def test_a_doctor_reads_but_cannot_run_internal_reviews(clinic):
    li = clinic.world.actor("li")
    with pytest.raises(ActionError) as exc:
        actions.create_campaign(li, institution_id=clinic.jia.pk, period="2026-Q1", kind="internal")
    assert exc.value.status == 403


def test_another_institutions_admin_sees_nothing(clinic, campaign):
    sun = clinic.world.actor("sun")
    assert not queries.campaigns(sun).exists()
    for call in (
        lambda: queries.campaign(sun, campaign.pk),
        lambda: actions.rebuild_checklist(sun, campaign.pk),
        lambda: actions.raise_finding(sun, campaign.pk, description="x"),
        lambda: actions.close_campaign(sun, campaign.pk, note="x"),
        lambda: actions.create_campaign(sun, institution_id=clinic.jia.pk, period="2026-Q2", kind="internal"),
    ):
        with pytest.raises(NotFoundField):
            call()


def test_an_auditor_of_another_oversight_body_sees_nothing(clinic, campaign, other_auditor):
    feng = build_actor(other_auditor)
    assert not queries.campaigns(feng).exists()
    with pytest.raises(NotFoundField):
        actions.rebuild_checklist(feng, campaign.pk)
    with pytest.raises(NotFoundField):
        actions.create_campaign(feng, institution_id=clinic.jia.pk, period="2026-Q2")
    # …but runs the institution it oversees
    own = actions.create_campaign(feng, institution_id=clinic.yi.pk, period="2026-Q1", today=TODAY)
    assert own.institution_id == clinic.yi.pk
    assert not queries.campaigns(clinic.world.actor("qian")).filter(pk=own.pk).exists()


def test_one_campaign_per_institution_quarter_and_kind(clinic, campaign):
    with pytest.raises(ActionError) as exc:
        actions.create_campaign(clinic.world.actor("qian"), institution_id=clinic.jia.pk, period="2026-q1")
    assert (exc.value.code, exc.value.status, exc.value.field) == ("CAMPAIGN_EXISTS", 409, "period")
    assert Campaign.objects.count() == 1


# ---- pages and API ---------------------------------------------------------------------------------------


def test_pages_answer_404_to_outsiders_and_403_to_readers_who_cannot_run(clinic, campaign):
    url = f"/reviews/{campaign.pk}/"
    assert clinic.world.client("qian").get(url).status_code == 200
    assert clinic.world.client("li").get(url).status_code == 200  # members read
    assert clinic.world.client("sun").get(url).status_code == 404
    assert clinic.world.client("sun").get(f"/reviews/{campaign.pk}/report.pdf").status_code == 404
    assert clinic.world.client("wang").post(f"/reviews/{campaign.pk}/rebuild/").status_code == 403
    assert clinic.world.client("sun").post(f"/reviews/{campaign.pk}/rebuild/").status_code == 404
    assert clinic.world.client("wang").get(f"/reviews/{campaign.pk}/findings/new/").status_code == 403


def test_api_answers_404_to_outsiders_and_403_with_the_envelope(clinic, campaign):
    base = f"/api/v1/reviews/campaigns/{campaign.pk}"
    assert clinic.world.client("sun").get(base).json()["code"] == "NOT_FOUND"
    r = clinic.world.client("wang").post(f"{base}/rebuild", data="{}", content_type="application/json")
    assert r.status_code == 403
    body = r.json()
    assert body["code"] == "FORBIDDEN" and "审计员" in body["message"]
    r = clinic.world.client("sun").post(
        f"{base}/findings", data=json.dumps({"description": "x"}), content_type="application/json"
    )
    assert r.status_code == 404
