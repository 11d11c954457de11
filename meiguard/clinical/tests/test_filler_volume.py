"""The filler volume limit is an institution policy setting (本机构规范): no limit until set, then the engine
refuses a record whose actual filler usage totals more than the institution's ml per session."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from meiguard.authz import snapshot
from meiguard.clinical import actions
from meiguard.clinical.models import Usage
from meiguard.core.errors import ActionError
from meiguard.rules import institution
from meiguard.rules.choices import RuleKind, RuleOp

from .conftest import FILLER
from .test_record import _udi, filler  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def _set_limit(clin, ml: str):
    zhao = clin.actor("zhao")  # 甲's compliance officer
    draft = institution.save_draft(zhao, clin.clinic.jia.pk, values={"filler_ml_per_session": ml})
    institution.publish(zhao, clin.clinic.jia.pk, draft.version, effective_from=timezone.localdate())
    snapshot.clear()
    return draft


def _add(clin, case, product, lot, key: str, ml: str):
    return actions.add_usage(
        clin.actor("li"),
        case.pk,
        usage_key=key,
        code=_udi(product, lot.lot_no, key),
        dose_value=Decimal(ml),
        dose_unit="ml",
        site="鼻唇沟",
        minutes=10,
    )


def test_there_is_no_filler_volume_limit_until_the_institution_sets_one(clin, filler, client):  # noqa: F811
    product, lot = filler
    case = clin.ready(FILLER)
    actions.open_record(clin.actor("li"), case.pk)
    for i in range(3):
        _add(clin, case, product, lot, f"u{i}", "1.5")  # 4.5 ml: allowed, no limit is set
    assert Usage.objects.filter(case=case).count() == 3
    client.force_login(clin.clinic.world.users["zhao"])
    got = client.get(f"/api/v1/rules/institutions/{clin.clinic.jia.pk}/policy").json()
    row = next(s for s in got["settings"] if s["key"] == "filler_ml_per_session")
    assert row["value"] is None and row["is_set"] is False and row["display"] == "未设定"
    assert row["unit"] == "ml"
    en = client.get(
        f"/api/v1/rules/institutions/{clin.clinic.jia.pk}/policy", HTTP_ACCEPT_LANGUAGE="en"
    ).json()
    assert next(s for s in en["settings"] if s["key"] == "filler_ml_per_session")["display"] == "Not set"
    page = client.get(f"/rules/policy/{clin.clinic.jia.pk}/").content.decode()
    assert "透明质酸(填充剂)单次注射总量上限" in page and "未设定" in page


def test_the_first_setting_adds_the_limit_rule_to_the_policy(clin):
    draft = _set_limit(clin, "2")
    rule = draft.rules.get(rule_id=institution.FILLER_VOLUME_RULE)
    assert rule.kind == RuleKind.LIMIT and rule.op == RuleOp.ADD
    assert rule.data == {
        "metric": "units_per_session",
        "max_value": 2,
        "unit": "ml",
        "product_kind": "hyaluronic_acid",
        "procedures": [FILLER],
    }
    assert rule.source == "《甲诊所 医疗美容服务规范》"  # the institution's own document
    # A later version that changes something else keeps the limit.
    zhao = clin.actor("zhao")
    later = institution.save_draft(zhao, clin.clinic.jia.pk, values={"nurse_training_hours": "200"})
    assert later.rules.get(rule_id=institution.FILLER_VOLUME_RULE).data["max_value"] == 2


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "2.555", ""])
def test_a_malformed_volume_is_refused(clin, raw):
    with pytest.raises(ActionError) as exc:
        institution.save_draft(clin.actor("zhao"), clin.clinic.jia.pk, values={"filler_ml_per_session": raw})
    assert exc.value.field == "values.filler_ml_per_session"


def test_filler_actually_given_over_the_institutions_volume_is_refused(clin, filler):  # noqa: F811
    product, lot = filler
    _set_limit(clin, "2")
    case = clin.ready(FILLER)
    actions.open_record(clin.actor("li"), case.pk)
    _add(clin, case, product, lot, "a", "1.2")
    # 1.2 ml + 1.0 ml = 2.2 ml > 2 ml: refused on what was really given, citing the institution's own policy.
    with pytest.raises(ActionError) as exc:
        _add(clin, case, product, lot, "b", "1.0")
    assert exc.value.code == "USAGE_REFUSED" and exc.value.field == "dose_value"
    (reason,) = exc.value.details
    assert reason["code"] == "DOSE_OVER_LIMIT"
    assert "本机构规范" in reason["source"]
    assert "2.2" in reason["message"] and "2ml" in reason["message"].replace(" ", "")
    _add(clin, case, product, lot, "c", "0.8")  # exactly 2 ml in all: allowed
    assert sum(u.dose_value for u in Usage.objects.filter(case=case)) == Decimal("2.0")
