"""Resolution by province and date, and the in-process cache."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from meiguard.rules import services
from meiguard.rules.services import NoActivePack

from .helpers import load_and_publish, national_v2, template_v2

pytestmark = pytest.mark.django_db


def test_it_resolves_the_national_pack_for_a_province_without_overlay(builtin):
    pack = services.resolve("湖南", dt.date(2024, 6, 1))
    assert pack.version_label == "全国基线 v1 + 机构规范模板 v1"
    assert pack.overlay is None
    assert (pack.national.pack, pack.institution.pack) == ("cn-national", "inst-template")
    assert pack.version_ids == (builtin["cn-national"].pk, None, builtin["inst-template"].pk)
    assert len(pack.procedures) == 94
    assert pack.procedures["surg-brow-lift"].grade == 1
    assert pack.rule("IN-03.clinic").data["max_grade"] == 1


def test_it_picks_the_version_effective_on_the_date(builtin, pack_copy):
    v2 = load_and_publish(national_v2(pack_copy))
    before = services.resolve("湖南", dt.date(2024, 12, 31))
    after = services.resolve("湖南", dt.date(2025, 1, 1))
    assert before.national.version == 1
    assert after.national.version == 2
    assert after.national.pk == v2.pk
    assert before.procedures["surg-brow-lift"].grade == 1
    assert after.procedures["surg-brow-lift"].grade == 2
    assert "surg-eyebrow-reshaping" in before.procedures
    assert "surg-eyebrow-reshaping" not in after.procedures
    assert before.requirement("cme_credits_per_year").value == 25
    assert after.requirement("cme_credits_per_year").value == 30
    # The institution layer is unchanged by a new national version.
    assert before.institution.pk == after.institution.pk


def test_it_picks_the_institution_template_version_effective_on_the_date(builtin, pack_copy):
    v2 = load_and_publish(template_v2(pack_copy))
    before = services.resolve("湖南", dt.date(2024, 12, 31))
    after = services.resolve("湖南", dt.date(2025, 1, 1))
    assert (before.institution.version, after.institution.version) == (1, 2)
    assert after.institution.pk == v2.pk
    assert after.national.version == 1
    assert after.version_label == "全国基线 v1 + 机构规范模板 v2"
    assert before.limits_for(procedure_code="surg-botulinum-toxin-a-injection")[0].max_value == Decimal("200")
    assert after.limits_for(procedure_code="surg-botulinum-toxin-a-injection")[0].max_value == Decimal("150")


def test_the_institution_layer_applies_on_top_of_the_overlay(builtin):
    pack = services.resolve("北京", dt.date(2024, 6, 1))
    assert pack.version_label == "全国基线 v1 + 北京 v1 + 机构规范模板 v1"
    assert [v.pack for v in pack.layers] == ["cn-national", "cn-bj", "inst-template"]
    assert pack.version_ids == (
        builtin["cn-national"].pk,
        builtin["cn-bj"].pk,
        builtin["inst-template"].pk,
    )
    limit = pack.rule("INST.botulinum-units-per-session")
    assert (limit.ref.pack, limit.ref.layer, limit.level) == ("inst-template", "institution", "institution")


def test_a_draft_version_is_not_used(builtin, pack_copy):
    from meiguard.core.access import Actor
    from meiguard.rules import actions

    actions.load_pack(Actor.system(), national_v2(pack_copy))
    assert services.resolve("湖南", dt.date(2026, 1, 1)).national.version == 1


def test_it_raises_no_active_pack_before_the_first_effective_date(builtin):
    with pytest.raises(NoActivePack) as info:
        services.resolve("湖南", dt.date(2010, 1, 1))
    assert info.value.code == "NO_ACTIVE_RULE_PACK"
    assert info.value.status == 409
    assert "2010-01-01" in str(info.value.message)


def test_it_raises_no_active_pack_when_nothing_is_loaded(db):
    with pytest.raises(NoActivePack):
        services.derive_permitted_grade(
            province="湖南",
            institution_type="aesthetic_clinic",
            hospital_level=None,
            subjects=["cosmetic_surgery"],
            has_anesthesiology=False,
            on=dt.date(2024, 1, 1),
        )


def test_it_caches_resolved_packs_and_invalidates_on_publish(builtin, pack_copy, django_assert_num_queries):
    first = services.resolve("北京", dt.date(2026, 1, 1))
    with django_assert_num_queries(1):  # only the "which versions are in force" query
        again = services.resolve("北京", dt.date(2026, 1, 1))
    assert again is first
    assert services.resolve("北京市", dt.date(2026, 1, 1)) is first
    load_and_publish(national_v2(pack_copy))
    assert services._cache == {}
    fresh = services.resolve("北京", dt.date(2026, 1, 1))
    assert fresh is not first
    assert fresh.national.version == 2
    assert fresh.overlay is not None and fresh.overlay.pack == "cn-bj"
    assert fresh.institution is not None and fresh.institution.pack == "inst-template"


def test_resolved_pack_exposes_follow_ups_and_requirements(builtin):
    pack = services.resolve("湖南", dt.date(2024, 1, 1))
    surgical = pack.follow_up_for("surgical")
    injection = pack.follow_up_for("injection")
    assert [str(o) for o in surgical.schedule] == ["3d", "7d", "1m", "3m"]
    assert [str(o) for o in injection.schedule] == ["24h", "1w", "1m"]
    start = dt.datetime(2025, 1, 31, 10, 0, tzinfo=dt.UTC)
    assert surgical.due_dates(start)[2] == dt.datetime(2025, 2, 28, 10, 0, tzinfo=dt.UTC)
    assert pack.requirement("cme_credits_per_year").value == 25
    assert pack.requirement("licence_verification_years").value == [1, 3]
    assert pack.requirement("nurse_registration_years").value == 5
    nurse_hours = pack.requirement("nurse_training_hours")
    assert (nurse_hours.value, nurse_hours.level, nurse_hours.adjustable) == (160, "institution", True)
    assert pack.anesthesia_requirement(1).requires_anesthetist is False
    assert pack.anesthesia_requirement(2).requires_anesthetist is True
    assert pack.anesthesia_requirement(2).anesthesia_max == "epidural-iv"
    assert pack.nurse_may_perform("non-invasive")[0] is True
    assert pack.nurse_may_perform("injection")[0] is False
    assert pack.supervision_for("doctor", "美容皮肤科").data["supervisor"] == "chief_physician"


def test_resolved_pack_is_immutable(builtin):
    pack = services.resolve("湖南", dt.date(2024, 1, 1))
    with pytest.raises(AttributeError):
        pack.province = "北京"  # type: ignore[misc]
    with pytest.raises(TypeError):
        pack.procedures["x"] = None  # type: ignore[index]
    with pytest.raises(TypeError):
        pack.rule("IN-03.clinic").data["max_grade"] = 4  # type: ignore[index]
