"""The institution layer end to end: one institution lowers its botulinum limit, another keeps the template.

Issue 10's acceptance: 180 U is denied at the institution that set 150 U and allowed at another institution on
the same day; the impact report lists the change before it takes effect; the decision names "本机构规范 v1";
relaxing a national rule is refused with a message naming it.
"""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from meiguard.authz import actions, snapshot
from meiguard.authz.facts import DecisionRequest, ProductUse
from meiguard.core.errors import ActionError
from meiguard.registry import actions as reg
from meiguard.rules import actions as rule_actions
from meiguard.rules import impact, institution
from meiguard.rules.choices import Jurisdiction

from .conftest import FAR, SYSTEM, authorize, make_doctor, make_institution

pytestmark = pytest.mark.django_db

TOXIN = "derm-botulinum-toxin-injection"


def _noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _request(inst, doc, lot, day: dt.date, units: int) -> DecisionRequest:
    return DecisionRequest(
        institution_id=inst.pk,
        practitioner_id=doc.pk,
        procedure_code=TOXIN,
        at=_noon(day),
        products=(ProductUse(lot.pk, Decimal(units), "U"),),
    )


@pytest.fixture
def two_clinics(clinic):
    """甲 (clinic fixture) and 丙, another clinic in 湖南 with its own doctor, stock and authorizations."""
    from meiguard.core.choices import OrganizationKind
    from meiguard.core.models import Organization

    org = Organization.objects.create(name="丙诊所", kind=OrganizationKind.INSTITUTION, province="湖南")
    bing = make_institution(org.pk, "丙诊所")
    wang = make_doctor(bing, "王医生")
    lot = reg.create_lot(
        SYSTEM,
        institution_id=bing.pk,
        product_id=clinic.toxin.pk,
        lot_no="B2026777",
        expiry_date=FAR,
        unit="piece",
    )
    authorize(bing, wang)
    authorize(bing, wang, "product", product_brand="衡力")
    return clinic, bing, wang, lot


def test_lowering_the_limit_denies_180_u_there_and_not_elsewhere(two_clinics):
    clinic, bing, wang, bing_lot = two_clinics
    today = timezone.localdate()
    tomorrow = today + dt.timedelta(days=1)
    zhao = clinic.world.actor("zhao")  # 甲's compliance officer

    # Today both institutions follow the template (200 U): 180 U is allowed at 甲, and the check is logged.
    before = actions.check(SYSTEM, _request(clinic.jia, clinic.li, clinic.lot, today, 180))
    assert before.decision.allowed
    assert "机构规范模板 v1" in before.log.rule_pack

    draft = institution.save_draft(
        zhao,
        clinic.jia.pk,
        values={"botulinum_units_per_session": "150"},
        document="甲诊所医疗美容服务规范(2026)",
        effective_from=tomorrow,
    )
    assert draft.pack.jurisdiction == Jurisdiction.INSTITUTION and not draft.is_published

    # Before it takes effect, the impact report lists 甲's 180 U request going from allowed to denied, and
    # nothing at 丙.
    report = impact.assess(draft, on=tomorrow)
    rows = [r for r in report.rows if r.procedure_code == TOXIN]
    assert rows and {r.institution_id for r in rows} == {clinic.jia.pk}
    assert {r.direction for r in rows} == {impact.Direction.TIGHTER}
    assert {r.institution_id for r in report.institutions} == {clinic.jia.pk}

    institution.publish(zhao, clinic.jia.pk, draft.version, effective_from=tomorrow)
    snapshot.clear()

    denied = actions.check(SYSTEM, _request(clinic.jia, clinic.li, clinic.lot, tomorrow, 180))
    assert not denied.decision.allowed
    (reason,) = [r for r in denied.decision.reasons if r.code == "DOSE_OVER_LIMIT"]
    assert reason.rule.rule_id == "INST.botulinum-units-per-session"
    assert reason.rule.pack_label == "本机构规范 v1"
    assert reason.rule.layer == Jurisdiction.INSTITUTION
    assert reason.rule.citations[0].title == "甲诊所医疗美容服务规范(2026)"
    assert reason.rule.citations[0].kind == "institution_policy"
    assert "本机构规范 v1" in denied.log.rule_pack
    assert dict(reason.facts)["limit"] == "150U"

    # 150 U is fine at 甲 tomorrow; 180 U is still allowed at 甲 today and at 丙 tomorrow (template, 200 U).
    assert actions.check(SYSTEM, _request(clinic.jia, clinic.li, clinic.lot, tomorrow, 150)).decision.allowed
    assert actions.check(SYSTEM, _request(clinic.jia, clinic.li, clinic.lot, today, 180)).decision.allowed
    elsewhere = actions.check(SYSTEM, _request(bing, wang, bing_lot, tomorrow, 180))
    assert elsewhere.decision.allowed, elsewhere.decision.codes()
    assert "机构规范模板 v1" in elsewhere.log.rule_pack


def test_relaxing_a_national_rule_is_refused_with_its_name(clinic):
    zhao = clinic.world.actor("zhao")
    with pytest.raises(ActionError) as exc:
        institution.save_draft(zhao, clinic.jia.pk, values={"cme_credits_per_year": "20"})
    assert exc.value.code == "POLICY_RELAXES_RULE"
    assert exc.value.field == "values.cme_credits_per_year"
    assert "继续医学教育每年≥25学分" in str(exc.value.message)
    assert "全国基线 v1" in str(exc.value.message)
    # Tightening is fine.
    version = institution.save_draft(zhao, clinic.jia.pk, values={"cme_credits_per_year": "30"})
    assert version.rules.get(rule_id="PR-08.cme-credits").data["value"] == 30


def test_raising_a_national_hard_limit_is_refused(clinic, tmp_path: Path):
    """A national version with a hard botulinum cap (a test pack) caps what an institution may set."""
    pack_dir = tmp_path / "cn-national"
    shutil.copytree(Path(settings.RULE_PACK_DIR) / "cn-national", pack_dir)
    text = (pack_dir / "pack.yaml").read_text(encoding="utf-8")
    text = text.replace("  version: 1\n", "  version: 2\n", 1)
    text += (
        "\nlimits:\n"
        "  - id: TEST.national-botulinum-cap\n"
        "    title: A型肉毒毒素单次注射量≤300U(测试用国家上限)\n"
        "    metric: units_per_session\n"
        "    max_value: 300\n"
        "    unit: U\n"
        "    product_kind: botulinum_toxin_a\n"
        "    cites: [toxin-notice-2008]\n"
    )
    (pack_dir / "pack.yaml").write_text(text, encoding="utf-8")
    loaded = rule_actions.load_pack(SYSTEM, pack_dir).version
    rule_actions.publish_version(SYSTEM, "cn-national", loaded.version, effective_from=timezone.localdate())

    zhao = clinic.world.actor("zhao")
    with pytest.raises(ActionError) as exc:
        institution.save_draft(zhao, clinic.jia.pk, values={"botulinum_units_per_session": "350"})
    assert exc.value.code == "POLICY_RELAXES_RULE"
    assert "测试用国家上限" in str(exc.value.message) and "300" in str(exc.value.message)
    assert institution.save_draft(zhao, clinic.jia.pk, values={"botulinum_units_per_session": "250"})


def test_only_the_institutions_writers_may_change_its_policy(clinic):
    with pytest.raises(ActionError) as exc:
        institution.save_draft(
            clinic.world.actor("li"), clinic.jia.pk, values={"nurse_training_hours": "200"}
        )
    assert exc.value.status == 403
    with pytest.raises(ActionError) as exc:
        institution.save_draft(
            clinic.world.actor("sun"), clinic.jia.pk, values={"nurse_training_hours": "200"}
        )
    assert exc.value.status == 404


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("botulinum_units_per_session", "-5", "须为数字"),
        ("botulinum_units_per_session", "１２０", "须为数字"),
        ("follow_up_surgical", "3x", "时间点"),
        ("nurse_may_perform", ["laser"], "未知的项目类别"),
        ("no_such_setting", "1", "没有此项设定"),
    ],
)
def test_malformed_values_are_refused_and_nothing_is_written(clinic, key, value, message):
    from meiguard.rules.models import RulePackVersion

    with pytest.raises(ActionError) as exc:
        institution.save_draft(clinic.world.actor("zhao"), clinic.jia.pk, values={key: value})
    assert message in str(exc.value.message)
    assert exc.value.field == f"values.{key}"
    assert not RulePackVersion.objects.filter(pack__institution_pk=clinic.jia.pk).exists()


def test_a_policy_cannot_take_effect_in_the_past(clinic):
    zhao = clinic.world.actor("zhao")
    draft = institution.save_draft(zhao, clinic.jia.pk, values={"nurse_training_hours": "200"})
    with pytest.raises(ActionError) as exc:
        institution.publish(
            zhao, clinic.jia.pk, draft.version, effective_from=timezone.localdate() - dt.timedelta(1)
        )
    assert exc.value.code == "POLICY_BACKDATED"


def test_the_policy_page_edits_and_publishes(clinic, client):
    url = f"/rules/policy/{clinic.jia.pk}/"
    client.force_login(clinic.world.users["zhao"])
    page = client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "机构规范模板 v1" in text and "A型肉毒毒素单次注射上限" in text
    assert "《2026年医疗美容服务年度工作计划(某医疗美容机构)》" in text  # the template's readable source
    assert "seed" not in text.lower()

    bad = client.post(url, {"action": "save", "cme_credits_per_year": "10"})
    assert bad.status_code == 200
    assert "不能放宽国家规定“继续医学教育每年≥25学分”" in bad.content.decode()

    saved = client.post(url, {"action": "save", "botulinum_units_per_session": "150", "document": "甲规范"})
    assert saved.status_code == 302
    versions = institution.versions(clinic.jia.pk)
    assert [(v.version, v.is_published) for v in versions] == [(1, False)]
    # Only the changed value is recorded as a change; the template's other values are carried over.
    rules = {r.rule_id: r for r in versions[0].rules.all()}
    assert rules["INST.botulinum-units-per-session"].data["max_value"] == 150
    assert rules["INST.filler-minutes-per-site"].data["max_value"] == 40
    assert "PR-08.cme-credits" not in rules

    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    published = client.post(
        url, {"action": "publish", "version": "1", "effective_from": tomorrow.isoformat()}
    )
    assert published.status_code == 302
    assert institution.versions(clinic.jia.pk)[0].effective_from == tomorrow

    client.force_login(clinic.world.users["li"])  # a doctor reads, without the form
    page = client.get(url).content.decode()
    assert "保存草稿" not in page and "本机构规范 v1" in page
    assert client.post(url, {"action": "save", "nurse_training_hours": "1"}).status_code == 403
    client.force_login(clinic.world.users["sun"])  # another institution's admin
    assert client.get(url).status_code == 404
    assert client.get(f"/rules/{versions[0].pack.code}/v1/").status_code == 404


def test_the_policy_api(clinic, client):
    client.force_login(clinic.world.users["zhao"])
    base = f"/api/v1/rules/institutions/{clinic.jia.pk}/policy"
    got = client.get(base).json()
    assert got["layer"] == "机构规范模板 v1" and got["can_edit"] is True
    cme = next(s for s in got["settings"] if s["key"] == "cme_credits_per_year")
    assert cme["national_value"] == 25 and cme["direction"] == "at_least"

    r = client.post(
        f"{base}/drafts", {"values": {"cme_credits_per_year": 20}}, content_type="application/json"
    )
    assert r.status_code == 422 and r.json()["field"] == "values.cme_credits_per_year"
    r = client.post(f"{base}/drafts", {"value": {}}, content_type="application/json")
    assert r.status_code == 422  # unknown field
    r = client.post(
        f"{base}/drafts", {"values": {"filler_minutes_per_site": 30}}, content_type="application/json"
    )
    assert r.status_code == 200 and r.json()["version"] == 1
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    r = client.post(
        f"{base}/versions/1/publish", {"effective_from": tomorrow}, content_type="application/json"
    )
    assert r.status_code == 200 and r.json()["status"] == "published"
    assert (
        client.post(
            f"{base}/versions/1/publish", {"effective_from": tomorrow}, content_type="application/json"
        ).status_code
        == 409
    )

    client.force_login(clinic.world.users["sun"])
    assert client.get(base).status_code == 404


def test_labels_do_not_depend_on_the_language_of_the_first_request(clinic, client):
    from django.utils import translation

    zhao = clinic.world.actor("zhao")
    draft = institution.save_draft(zhao, clinic.jia.pk, values={"botulinum_units_per_session": "150"})
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    institution.publish(zhao, clinic.jia.pk, draft.version, effective_from=tomorrow)
    snapshot.clear()
    with translation.override("en"):  # the first request to build the pack is an English one
        checked = actions.check(SYSTEM, _request(clinic.jia, clinic.li, clinic.lot, tomorrow, 180))
        (reason,) = [r for r in checked.decision.reasons if r.code == "DOSE_OVER_LIMIT"]
        assert reason.rule.pack_label == "Institution policy v1"
    assert checked.log.rule_pack == "全国基线 v1 + 本机构规范 v1"  # the log keeps one language
    assert reason.rule.pack_label == "本机构规范 v1"
