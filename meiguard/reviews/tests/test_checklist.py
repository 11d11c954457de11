"""Each checklist category from data: what makes an item, and what does not."""

from __future__ import annotations

import datetime as dt

from django.utils import translation

from meiguard.authz import actions as authz_actions
from meiguard.authz.tests.conftest import make_doctor
from meiguard.registry import actions as reg
from meiguard.reviews import actions, checklist
from meiguard.reviews.choices import ItemCategory
from meiguard.reviews.models import ChecklistItem
from meiguard.reviews.periods import Quarter

from .conftest import SYSTEM, TODAY, add_cme, at, authorize, check, deny_missing, full_cme, make_nurse

Q1 = Quarter(2026, 1)


# ---- 1. denied for scope / authorization validity ----------------------------------------------------


def test_denied_decisions_are_grouped_by_practitioner_and_procedure(clinic):
    first = deny_missing(clinic, at(2026, 2, 1))
    deny_missing(clinic, at(2026, 3, 3))
    items = checklist.denied_decisions(clinic.jia, Q1.start, Q1.end)
    assert len(items) == 1
    item = items[0]
    assert item.key == f"denied:{clinic.li.pk}:derm-filler-injection"
    assert item.category == ItemCategory.DENIED_DECISIONS
    assert item.evidence_count == 2
    assert item.evidence["codes"]["AUTHORIZATION_MISSING"] == 2
    assert item.evidence["scope"] == 2 and item.evidence["validity"] == 0
    assert item.evidence["practitioner"] == "李医生"
    assert item.evidence["procedure_name"] == "填充物注射(透明质酸等)"
    assert item.decision_ids[0] == first.log.pk and len(item.decision_ids) == 2
    assert item.evidence["first_at"] == "2026-02-01 10:00"


def test_a_denial_under_an_expired_authorization_names_it(clinic):
    expired = authorize(
        clinic.jia, clinic.li, procedure_code="derm-radiofrequency", valid_until=dt.date(2026, 2, 1)
    )
    checked = check(clinic, procedure_code="derm-radiofrequency", products=())
    assert "AUTHORIZATION_EXPIRED" in checked.decision.codes()
    (item,) = checklist.denied_decisions(clinic.jia, Q1.start, Q1.end)
    assert item.evidence["validity"] == 1
    assert item.evidence["authorizations"] == [expired.pk]
    assert item.authorization_id == expired.pk  # a suspend action can name it directly


def test_allowed_and_other_denials_and_other_periods_make_no_item(clinic):
    check(clinic)  # allowed
    over_dose = check(
        clinic,
        products=(
            __import__("meiguard.authz.tests.conftest", fromlist=["x"]).snapshot_product(clinic.lot.pk, 250),
        ),
    )
    assert over_dose.decision.codes() == ("DOSE_OVER_LIMIT",)  # denied, but not for scope or validity
    deny_missing(clinic, at(2025, 12, 31, 23))  # the previous quarter (China time)
    deny_missing(clinic, at(2026, 4, 1, 0))  # the next one
    assert checklist.denied_decisions(clinic.jia, Q1.start, Q1.end) == []


def test_denials_at_another_institution_are_not_counted(clinic):
    deny_missing(clinic)
    assert checklist.denied_decisions(clinic.yi, Q1.start, Q1.end) == []


# ---- 2. expiring while in use -------------------------------------------------------------------------


def _short_lived(clinic, days: int):
    return authorize(
        clinic.jia,
        clinic.li,
        procedure_code="derm-chemical-peel",
        valid_until=dt.date(2026, 3, 10) + dt.timedelta(days=days),
    )


def test_an_authorization_ending_within_30_days_and_used_is_listed(clinic):
    auth = _short_lived(clinic, 20)
    check(clinic, procedure_code="derm-chemical-peel", products=(), device_ids=(), at=at(2026, 3, 1))
    (item,) = checklist.expiring_in_use(clinic.jia, dt.date(2026, 3, 10))
    assert item.key == f"expiring:{auth.pk}"
    assert item.authorization_id == auth.pk and item.practitioner_id == clinic.li.pk
    assert item.evidence["days_left"] == 20 and item.evidence["window"] == 30
    assert item.evidence["uses"] == 1 and item.evidence_count == 1


def test_an_authorization_ending_within_60_days_is_in_the_60_day_window(clinic):
    _short_lived(clinic, 45)
    check(clinic, procedure_code="derm-chemical-peel", products=(), device_ids=(), at=at(2026, 3, 1))
    (item,) = checklist.expiring_in_use(clinic.jia, dt.date(2026, 3, 10))
    assert item.evidence["window"] == 60


def test_product_authorizations_count_uses_of_their_brand(clinic):
    product = clinic.auths["product"]
    product.valid_until = dt.date(2026, 4, 1)
    product.save(update_fields=["valid_until"])
    check(clinic)  # uses the 衡力 lot and the device
    keys = {i.key for i in checklist.expiring_in_use(clinic.jia, dt.date(2026, 3, 10))}
    assert keys == {f"expiring:{product.pk}"}


def test_unused_far_renewed_or_long_ago_used_authorizations_are_not_listed(clinic):
    unused = _short_lived(clinic, 20)
    far = authorize(
        clinic.jia, clinic.li, procedure_code="derm-cryotherapy", valid_until=dt.date(2026, 6, 30)
    )
    check(clinic, procedure_code="derm-cryotherapy", products=(), device_ids=(), at=at(2026, 3, 1))
    assert far.valid_until and (far.valid_until - dt.date(2026, 3, 10)).days > 60
    # used, but only more than 90 days ago
    old = authorize(
        clinic.jia, clinic.li, procedure_code="derm-microneedling", valid_until=dt.date(2026, 3, 30)
    )
    check(clinic, procedure_code="derm-microneedling", products=(), device_ids=(), at=at(2025, 11, 1))
    assert unused.pk and old.pk
    assert checklist.expiring_in_use(clinic.jia, dt.date(2026, 3, 10)) == []


def test_an_active_renewal_takes_the_risk_away(clinic):
    auth = _short_lived(clinic, 20)
    check(clinic, procedure_code="derm-chemical-peel", products=(), device_ids=(), at=at(2026, 3, 1))
    renewal = authz_actions.renew_authorization(SYSTEM, auth.pk, valid_until=dt.date(2027, 3, 30))
    assert checklist.expiring_in_use(clinic.jia, dt.date(2026, 3, 10)) != []  # a draft renewal is not enough
    authz_actions.change_status(SYSTEM, renewal.pk, action="activate")
    assert checklist.expiring_in_use(clinic.jia, dt.date(2026, 3, 10)) == []


# ---- 3. CME credits and training hours ------------------------------------------------------------------


def test_a_doctor_without_cme_credits_is_short(clinic):
    items = checklist.training_short(clinic.jia, 2026, dt.date(2026, 3, 10))
    (item,) = [i for i in items if i.practitioner_id == clinic.li.pk]
    assert item.key == f"cme:{clinic.li.pk}:2026"
    assert item.evidence["total"] == "0" and item.evidence["required_total"] == "25"
    assert item.source == "《继续医学教育学分授予与管理办法》" and item.institution_practice is False


def test_enough_credits_in_both_classes_is_not_short(clinic):
    full_cme(clinic.li)
    assert checklist.training_short(clinic.jia, 2026, dt.date(2026, 3, 10)) == []


def test_classes_cannot_substitute_for_each_other(clinic):
    add_cme(clinic.li, 2026, "class_i", 4)
    add_cme(clinic.li, 2026, "class_ii", 25)  # 29 in total, but Class I below 5
    (item,) = checklist.training_short(clinic.jia, 2026, dt.date(2026, 3, 10))
    assert (item.evidence["class_i"], item.evidence["class_ii"], item.evidence["total"]) == ("4", "25", "29")


def test_credits_of_another_year_or_rejected_do_not_count(clinic):
    full_cme(clinic.li, 2025)
    rejected = add_cme(clinic.li, 2026, "class_i", 10)
    add_cme(clinic.li, 2026, "class_ii", 15)
    reg.verify_qualification(SYSTEM, rejected.pk, status="rejected", note="证明不符")
    (item,) = checklist.training_short(clinic.jia, 2026, dt.date(2026, 3, 10))
    assert item.evidence["class_i"] == "0" and item.evidence["class_ii"] == "15"


def test_nurses_short_of_the_packs_training_hours_are_listed_as_institution_practice(clinic):
    full_cme(clinic.li)
    short = make_nurse(clinic.jia, "刘护士", 80)
    make_nurse(clinic.jia, "周护士", 200)
    (item,) = checklist.training_short(clinic.jia, 2026, dt.date(2026, 3, 10))
    assert item.key == f"nurse_hours:{short.pk}"
    assert (item.evidence["hours"], item.evidence["required"]) == ("80", "160")
    assert item.institution_practice is True
    assert item.source.startswith("《2026年医疗美容服务年度工作计划(某医疗美容机构)》二(二)2")


def test_people_of_other_institutions_are_not_listed_but_multi_site_ones_are(clinic):
    full_cme(clinic.li)
    visitor = make_doctor(clinic.yi, "王客座")
    assert checklist.training_short(clinic.jia, 2026, dt.date(2026, 3, 10)) == []
    reg.create_practitioner_site(
        SYSTEM, institution_id=clinic.jia.pk, practitioner_id=visitor.pk, valid_from=dt.date(2026, 1, 1)
    )
    (item,) = checklist.training_short(clinic.jia, 2026, dt.date(2026, 3, 10))
    assert item.practitioner_id == visitor.pk


# ---- 4. monthly internal checks -------------------------------------------------------------------------


def test_each_month_of_the_quarter_gets_the_four_internal_checks():
    items = checklist.monthly_checks(Quarter(2026, 4))
    assert len(items) == 12
    assert {i.month for i in items} == {10, 11, 12}
    assert {i.check_code for i in items} == {
        "authorization_archive",
        "high_risk_drugs",
        "device_inspection",
        "adverse_events",
    }
    # the internal checks rest on institution practice, cited by document (never "seed 00x" or a bare id)
    assert all(i.institution_practice and i.source.startswith("《") for i in items)
    assert all("seed" not in i.source and "[S" not in i.source for i in items)
    assert len({i.key for i in items}) == 12


def test_item_titles_follow_the_active_language(clinic, campaign):
    deny_missing(clinic)
    actions.rebuild_checklist(clinic.world.actor("qian"), campaign.pk, today=TODAY)
    item = ChecklistItem.objects.get(campaign=campaign, category=ItemCategory.DENIED_DECISIONS)
    with translation.override("zh-hans"):
        assert item.title == "李医生 · 填充物注射(透明质酸等):1 次核验被拒(超范围或授权失效)"
        assert "无项目授权 ×1" in item.detail
    with translation.override("en"):
        assert (
            item.title
            == "李医生 · Dermal filler injection (HA etc.): denied 1× (scope or authorization validity)"
        )
        assert "no procedure authorization ×1" in item.detail
