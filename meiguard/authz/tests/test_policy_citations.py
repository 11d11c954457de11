"""Each new check cites the pack rule that actually produced it (not a rule about something else)."""

from __future__ import annotations

from dataclasses import replace

from meiguard.authz.policy import Outcome, anesthesia_needs, check_anesthesia, check_technology, decide

from .builders import (
    ANESTHESIA_RULES,
    CHIEF_DERM_RULE,
    INSTITUTION,
    TECHNOLOGY_RULE,
    allowed_case,
    anesthetist,
    authorization,
    pack,
    procedure,
    ref,
)
from .test_policy_scenarios import (
    BJ_CHIEF,
    NURSE_RULES,
    beijing,
    both,
    grade2_case,
    lapsed_supervisor,
    no_anesthetist,
    nurse_peel,
    nurse_pr07,
    prac,
    tech,
    thread_case,
)


def _only(mutation):  # type: ignore[no-untyped-def]
    req, snap = mutation(*allowed_case())
    return decide(req, snap)


def test_missing_anaesthetist_cites_the_grade_rule() -> None:
    (reason,) = _only(both(grade2_case, no_anesthetist)).reasons
    assert reason.code == "ANESTHETIST_REQUIRED"
    assert reason.rule.rule_id == "PG-01.grade-2"
    assert reason.fact("anesthesia") == "epidural-iv"


def test_ungraded_item_under_general_anaesthesia_cites_the_general_rule() -> None:
    req, snap = allowed_case()
    snap = replace(
        snap,
        pack=pack(procedure=procedure(), anesthesia_rules=ANESTHESIA_RULES),
        institution=replace(INSTITUTION, has_anesthesiology=True),
    )
    req = replace(req, anesthesia="general")
    effective, rule = anesthesia_needs(req, snap)
    assert effective == "general"
    assert rule is not None and rule.rule.rule_id == "PG-01.grade-3"
    assert [r.code for r in check_anesthesia(req, snap)] == ["ANESTHETIST_REQUIRED"]
    # and under the default (no anaesthesia asked for, none in the catalog) nothing is needed
    assert anesthesia_needs(replace(req, anesthesia=None), snap) == (None, None)


def test_no_anaesthesia_rules_in_the_pack_means_no_anaesthesia_check() -> None:
    req, snap = grade2_case(*allowed_case())
    snap = replace(snap, pack=replace(snap.pack, anesthesia_rules=()), anesthetist=None)
    assert list(check_anesthesia(replace(req, anesthetist_id=None), snap)) == []


def test_an_anaesthetist_named_but_not_needed_is_not_checked() -> None:
    req, snap = allowed_case()
    snap = replace(snap, anesthetist=anesthetist(status="suspended"))
    assert decide(replace(req, anesthetist_id=9), snap).outcome == Outcome.ALLOW


def test_technology_reasons_cite_the_technology_rule() -> None:
    (reason,) = _only(both(thread_case, tech())).reasons
    assert reason.code == "TECHNOLOGY_AUTHORIZATION_MISSING"
    assert reason.rule == TECHNOLOGY_RULE
    assert reason.fact("procedure") == "derm-thread-lift"


def test_an_item_no_technology_rule_lists_needs_no_technology_authorization() -> None:
    req, snap = allowed_case()
    assert list(check_technology(req, snap)) == []
    # the thread lift without its rule: only the qualification authorization is asked for
    snap = replace(
        snap,
        pack=pack(procedure=procedure("derm-thread-lift", invasive="surgical", category="微创")),
        authorizations=(authorization(1, procedure_code="derm-thread-lift"),),
    )
    assert list(check_technology(replace(req, products=(), device_ids=()), snap)) == []


def test_supervisor_licence_cites_the_chief_rule() -> None:
    from .test_policy_scenarios import snap_

    decision = _only(both(nurse_peel, snap_(supervisor=lapsed_supervisor)))
    reason = next(r for r in decision.reasons if r.code == "SUPERVISOR_LICENCE_EXPIRED")
    assert reason.rule == CHIEF_DERM_RULE  # the builders' PR-02 rule for dermatology
    assert reason.rule.rule_id == "PR-02.cosmetic_dermatology"
    assert reason.fact("valid_until") == str(lapsed_supervisor.qualifications[0].valid_until)


def test_nurse_experience_cites_pr07() -> None:
    import datetime as dt

    (reason,) = _only(both(nurse_pr07, prac(practising_since=dt.date(2025, 1, 1)))).reasons
    assert reason.code == "NURSE_EXPERIENCE_SHORT"
    assert reason.rule == NURSE_RULES["nurse_qualification_rule"]
    assert reason.fact("enough_on") == "2027-01-01"


def test_beijing_reasons_cite_the_overlay_rule() -> None:
    decision = _only(both(beijing, prac(main_province="河北")))
    (reason,) = decision.reasons
    assert reason.rule == BJ_CHIEF.rule
    assert reason.rule.pack == "cn-bj"
    assert reason.fact("province") == "北京"


def test_verification_notice_cites_in04() -> None:
    req, snap = allowed_case()
    rule = ref("IN-04.verification-notice-months", "verification-rules-2009")
    snap = replace(
        snap,
        pack=replace(snap.pack, verification_notice_months=3, verification_notice_rule=rule),
        institution=replace(INSTITUTION, next_verification_due=req.on.replace(month=5, day=1)),
    )
    (reason,) = decide(req, snap).reasons
    assert (reason.code, reason.rule, reason.fact("notice_months")) == (
        "INSTITUTION_VERIFICATION_DUE_SOON",
        rule,
        "3",
    )
