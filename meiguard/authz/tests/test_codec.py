import json
from dataclasses import replace
from decimal import Decimal

from meiguard.authz.codec import decode, encode
from meiguard.authz.facts import DecisionRequest, ProductUse, Snapshot
from meiguard.authz.policy import Decision, decide

from .builders import BOTOX_LIMIT_RULE, SUPERVISOR_FOR_TESTS, allowed_case


def test_snapshot_and_request_survive_a_json_round_trip():
    req, snap = allowed_case()
    snap = replace(snap, supervisor=SUPERVISOR_FOR_TESTS)
    req = replace(req, supervisor_id=2, products=(ProductUse(500, Decimal("12.5"), "U", minutes=3),))
    snap2 = decode(Snapshot, json.loads(json.dumps(encode(snap))))
    req2 = decode(DecisionRequest, json.loads(json.dumps(encode(req))))
    assert snap2 == snap
    assert req2 == req


def test_a_decision_round_trips_with_its_reasons():
    req, snap = allowed_case()
    decision = decide(replace(req, products=(ProductUse(500, Decimal(300), "U"),)), snap)
    again = decode(Decision, json.loads(json.dumps(encode(decision))))
    assert again == decision
    rule = again.reasons[0].rule
    assert rule == BOTOX_LIMIT_RULE
    # The citation (document, article, kind), layer and pack name survive, not only the source line.
    assert rule.source == BOTOX_LIMIT_RULE.source and rule.source.startswith("《")
    assert rule.citations == BOTOX_LIMIT_RULE.citations and rule.citations[0].kind == "institution_policy"
    assert (rule.layer, rule.pack_name) == ("institution", "机构规范模板")


def test_register_citations_are_stored_by_id_and_come_back_whole():
    from meiguard.authz.codec import decode, encode
    from meiguard.rules.services import RuleRef
    from meiguard.rules.sources import Citation, cite

    measures = cite("measures", "第十一条")
    own = Citation(doc="inst-7", kind="institution_policy", title="甲诊所医疗美容服务规范", issuer="甲诊所")
    ref = RuleRef(
        "cn-national", 1, "PR-02.cosmetic_surgery", "《医疗美容服务管理办法》第十一条", (measures, own)
    )
    data = encode(ref)
    assert data["citations"][0] == {"doc": "measures", "article": "第十一条"}  # the register has the rest
    assert data["citations"][1]["title"] == "甲诊所医疗美容服务规范"  # not in the register: stored whole
    assert decode(RuleRef, data) == ref
