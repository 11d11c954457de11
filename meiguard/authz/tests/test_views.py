"""The staff pages: check (htmx + no-JS), decision log with replay, authorization archive."""

import datetime as dt

import pytest
from django.utils import timezone

from meiguard.audit.models import AuditEntry
from meiguard.authz import actions
from meiguard.authz.models import Authorization, DecisionLog
from meiguard.registry import actions as reg

from .conftest import SYSTEM

HTMX = {"HTTP_HX_REQUEST": "true"}


def _form(clinic, **changes):
    data = {
        "institution": str(clinic.jia.pk),
        "practitioner": str(clinic.li.pk),
        "procedure": "derm-botulinum-toxin-injection",
        "at": "2026-03-03T10:00",
        "lot_0": str(clinic.lot.pk),
        "dose_value_0": "50",
        "dose_unit_0": "U",
        "devices": [str(clinic.device.pk)],
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


# ---- check page ----------------------------------------------------------------------------------


def test_check_page_renders_with_the_visible_institutions(clinic):
    r = clinic.world.client("li").get("/authz/check/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "授权核验" in html
    assert "甲诊所" in html
    assert "乙医院" not in html
    assert 'hx-post="/authz/check/"' in html


def test_check_page_requires_login(clinic):
    from django.test import Client

    r = Client().get("/authz/check/")
    assert r.status_code == 302


def test_sun_cannot_see_jia_in_the_institution_select(clinic):
    r = clinic.world.client("sun").get("/authz/check/")
    html = r.content.decode()
    assert "乙医院" in html
    assert "甲诊所" not in html


def test_choosing_an_institution_refreshes_practitioners_and_procedures(clinic):
    c = clinic.world.client("li")
    r = c.get(f"/authz/check/fields/?institution={clinic.jia.pk}", **HTMX)
    html = r.content.decode()
    assert r.status_code == 200
    assert "<html" not in html
    assert "李医生" in html
    assert "derm-botulinum-toxin-injection" in html
    assert "B2026001" in html
    assert "RF-0001" in html
    # grouped by subject
    assert 'optgroup label="美容皮肤科"' in html
    # the no-JS path: the full page with ?institution= pre-selects and lists the same.
    full = c.get(f"/authz/check/?institution={clinic.jia.pk}").content.decode()
    assert "李医生" in full and "derm-botulinum-toxin-injection" in full


def test_a_foreign_institution_in_the_refresh_lists_nothing(clinic):
    r = clinic.world.client("sun").get(f"/authz/check/fields/?institution={clinic.jia.pk}", **HTMX)
    assert r.status_code == 200
    assert "李医生" not in r.content.decode()


def test_htmx_post_returns_only_the_result_partial(clinic):
    r = clinic.world.client("li").post("/authz/check/", _form(clinic), **HTMX)
    assert r.status_code == 200
    html = r.content.decode()
    assert "<html" not in html
    assert 'class="badge ok"' in html
    assert "允许" in html
    row = DecisionLog.objects.get()
    assert row.channel == "ui"
    assert row.actor_label == "li"
    assert f"/authz/decisions/{row.pk}/" in html


def test_a_deny_shows_every_reason_with_message_rule_and_facts(clinic):
    reg.change_lot_status(SYSTEM, clinic.lot.pk, status="recalled", recall_level=1, reason="厂家召回")
    r = clinic.world.client("li").post("/authz/check/", _form(clinic, dose_value_0="250"), **HTMX)
    html = r.content.decode()
    assert 'class="badge deny"' in html
    assert "不允许" in html
    assert "LOT_RECALLED" in html and "DOSE_OVER_LIMIT" in html
    assert "批次 B2026001 已被召回" in html
    assert "超过单次上限 200U" in html
    # Each reason cites its rule by layer and document (the institution template's operating plan for the
    # limit, the recall rules for the lot), never by an internal id.
    assert "机构规范模板 v1" in html and "《2026年医疗美容服务年度工作计划(某医疗美容机构)》" in html
    assert "《医疗器械召回管理办法》" in html
    assert "INST.botulinum-units-per-session" not in html and "seed 004" not in html
    assert "<dt>上限</dt><dd>200U</dd>" in html and "limit=" not in html  # facts by their names
    assert DecisionLog.objects.get().outcome == "deny"


def test_the_result_is_in_english_with_accept_language(clinic):
    r = clinic.world.client("li").post(
        "/authz/check/", _form(clinic, dose_value_0="250"), HTTP_ACCEPT_LANGUAGE="en", **HTMX
    )
    html = r.content.decode()
    assert "exceeds" in html
    assert "Not allowed" in html


def test_without_js_the_form_posts_and_the_full_page_shows_the_result(clinic):
    r = clinic.world.client("li").post("/authz/check/", _form(clinic, devices=[]))
    assert r.status_code == 200
    html = r.content.decode()
    assert "<html" in html
    assert 'id="decision-result"' in html
    assert 'class="badge ok"' in html


def test_a_warning_outcome_has_colour_and_text(clinic):
    late = timezone.make_aware(dt.datetime(2030, 12, 20, 10, 0))
    assert actions.check(SYSTEM, clinic.request(at=late, products=(), device_ids=())).decision.outcome == (
        "allow_with_warnings"
    )
    form = _form(clinic, at="2030-12-20T10:00", lot_0=None, dose_value_0=None, dose_unit_0=None, devices=None)
    r = clinic.world.client("li").post("/authz/check/", form, **HTMX)
    html = r.content.decode()
    assert 'class="badge warn"' in html
    assert "允许(有警示)" in html
    assert "AUTHORIZATION_EXPIRING" in html


@pytest.mark.parametrize("field", ["institution", "practitioner"])
def test_foreign_ids_are_form_errors_not_500(clinic, field):
    foreign = {"institution": clinic.yi.pk, "practitioner": clinic.sun_doctor.pk}[field]
    r = clinic.world.client("li").post("/authz/check/", _form(clinic, **{field: str(foreign)}), **HTMX)
    assert r.status_code == 200
    html = r.content.decode()
    assert 'role="alert"' in html
    assert "选择一个有效的选项" in html or "有效" in html
    assert not DecisionLog.objects.exists()


def test_a_foreign_supervisor_is_a_form_error(clinic):
    r = clinic.world.client("li").post("/authz/check/", _form(clinic, supervisor=str(clinic.sun_doctor.pk)))
    assert r.status_code == 200
    assert "errorlist" in r.content.decode()
    assert not DecisionLog.objects.exists()


def test_bad_input_gives_chinese_form_errors(clinic):
    r = clinic.world.client("li").post(
        "/authz/check/",
        _form(clinic, dose_value_0="lots", dose_unit_0="", procedure="", at="not a date"),
    )
    html = r.content.decode()
    assert r.status_code == 200
    assert "这个字段是必填项" in html
    assert "输入一个数字" in html
    assert not DecisionLog.objects.exists()


def test_bad_input_in_english(clinic):
    r = clinic.world.client("li").post(
        "/authz/check/", _form(clinic, procedure=""), HTTP_ACCEPT_LANGUAGE="en", **HTMX
    )
    assert "This field is required" in r.content.decode()


def test_a_dose_without_a_unit_is_in_the_products_own_unit(clinic):
    r = clinic.world.client("li").post(
        "/authz/check/", _form(clinic, dose_unit_0="", dose_value_0="250"), **HTMX
    )
    assert "请选择剂量单位" not in r.content.decode()
    row = DecisionLog.objects.get()
    assert row.request["products"][0]["dose_unit"] == "U"
    assert row.reason_codes == ["DOSE_OVER_LIMIT"]


def test_a_unit_without_a_dose_is_a_form_error(clinic):
    r = clinic.world.client("li").post("/authz/check/", _form(clinic, dose_value_0=""), **HTMX)
    assert "选择了单位时须填写剂量" in r.content.decode()
    assert not DecisionLog.objects.exists()


def test_an_unknown_procedure_is_a_form_error(clinic):
    r = clinic.world.client("li").post("/authz/check/", _form(clinic, procedure="no-such"), **HTMX)
    assert r.status_code == 200
    assert not DecisionLog.objects.exists()


# ---- capabilities --------------------------------------------------------------------------------


def test_capabilities_page_lists_allowed_first_then_denied_with_reason(clinic):
    r = clinic.world.client("li").get(f"/authz/practitioners/{clinic.li.pk}/capabilities/?on=2026-03-03")
    assert r.status_code == 200
    html = r.content.decode()
    assert "甲诊所" in html
    allowed_at = html.index("可以开展:")
    denied_at = html.index("不可开展:")
    assert allowed_at < html.index("derm-botulinum-toxin-injection") < denied_at
    assert "AUTHORIZATION_MISSING" in html
    assert "没有覆盖该项目的有效授权" in html


def test_capabilities_partial_for_htmx(clinic):
    r = clinic.world.client("zhao").get(f"/authz/practitioners/{clinic.li.pk}/capabilities/", **HTMX)
    html = r.content.decode()
    assert r.status_code == 200
    assert "<html" not in html
    assert "李医生" in html


def test_capabilities_page_is_404_for_foreign_practitioners(clinic):
    c = clinic.world.client("sun")
    assert c.get(f"/authz/practitioners/{clinic.li.pk}/capabilities/").status_code == 404
    assert c.get("/authz/practitioners/999999/capabilities/").status_code == 404


# ---- decision log --------------------------------------------------------------------------------


def _decide(clinic, who="li", **changes):
    return actions.check(clinic.world.actor(who), clinic.request(**changes), channel="ui").log


def test_decision_log_lists_and_filters(clinic):
    allow = _decide(clinic)
    deny = _decide(clinic, procedure_code="derm-filler-injection", products=(), device_ids=())
    c = clinic.world.client("zhao")
    html = c.get("/authz/decisions/").content.decode()
    assert f"#{allow.pk}" in html and f"#{deny.pk}" in html
    html = c.get("/authz/decisions/?outcome=deny").content.decode()
    assert f"/authz/decisions/{deny.pk}/" in html and f"/authz/decisions/{allow.pk}/" not in html
    html = c.get("/authz/decisions/?procedure=derm-botulinum-toxin-injection").content.decode()
    assert f"/authz/decisions/{allow.pk}/" in html and f"/authz/decisions/{deny.pk}/" not in html
    html = c.get(
        f"/authz/decisions/?institution={clinic.jia.pk}&practitioner={clinic.li.pk}"
    ).content.decode()
    assert f"/authz/decisions/{allow.pk}/" in html
    html = c.get("/authz/decisions/?since=2026-03-03&until=2026-03-03").content.decode()
    assert f"/authz/decisions/{allow.pk}/" in html
    html = c.get("/authz/decisions/?since=2026-03-04").content.decode()
    assert f"/authz/decisions/{allow.pk}/" not in html
    html = c.get("/authz/decisions/?until=2026-03-02").content.decode()
    assert f"/authz/decisions/{allow.pk}/" not in html
    # garbage filters are ignored, never a 500
    assert c.get("/authz/decisions/?institution=x&since=yesterday&outcome=maybe&page=zz").status_code == 200


def test_decision_log_paginates(clinic):
    for _ in range(27):
        _decide(clinic)
    c = clinic.world.client("zhao")
    first = c.get("/authz/decisions/").content.decode()
    assert "第 1 / 2 页" in first
    second = c.get("/authz/decisions/?page=2").content.decode()
    assert second.count("/authz/decisions/") - second.count('action="/authz/decisions/"') >= 2


def test_decision_log_is_scoped(clinic):
    row = _decide(clinic)
    c = clinic.world.client("sun")
    assert f"/authz/decisions/{row.pk}/" not in c.get("/authz/decisions/").content.decode()
    assert (
        f"/authz/decisions/{row.pk}/"
        not in c.get(f"/authz/decisions/?institution={clinic.jia.pk}").content.decode()
    )
    assert c.get(f"/authz/decisions/{row.pk}/").status_code == 404
    # the association auditor overseeing 甲 sees it
    assert clinic.world.client("qian").get(f"/authz/decisions/{row.pk}/").status_code == 200


def test_decision_detail_shows_request_reasons_and_replay(clinic, django_capture_on_commit_callbacks):
    row = _decide(clinic)
    # Since then the lot has been recalled: the record still says allow, today's data would deny.
    with django_capture_on_commit_callbacks(execute=True):
        reg.change_lot_status(SYSTEM, clinic.lot.pk, status="recalled", recall_level=1, reason="厂家召回")
    r = clinic.world.client("zhao").get(f"/authz/decisions/{row.pk}/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "2026-03-03 10:00" in html
    assert "李医生" in html and "B2026001" in html and "50U" in html
    assert "与记录一致" in html
    assert "按今天的数据判断同一时点" in html
    assert (
        '<li class="diff-added">+ 批次 B2026001 已被召回(1 级),禁止使用 <code class="code-chip">LOT_RECALLED</code>'
        in html
    )
    assert "已被召回" in html


# ---- authorization archive -----------------------------------------------------------------------


def test_authorization_list_filters(clinic):
    c = clinic.world.client("zhao")
    html = c.get("/authz/authorizations/").content.decode()
    for auth in clinic.auths.values():
        assert f"/authz/authorizations/{auth.pk}/" in html
    html = c.get("/authz/authorizations/?kind=product").content.decode()
    assert f"/authz/authorizations/{clinic.auths['product'].pk}/" in html
    assert f"/authz/authorizations/{clinic.auths['device'].pk}/" not in html
    html = c.get("/authz/authorizations/?status=draft").content.decode()
    assert "没有符合条件的授权" in html
    html = c.get(f"/authz/authorizations/?practitioner={clinic.sun_doctor.pk}").content.decode()
    assert "没有符合条件的授权" in html
    html = c.get("/authz/authorizations/?expiring=30").content.decode()
    assert "没有符合条件的授权" in html


def test_authorization_list_expiring_filter(clinic):
    zhao = clinic.world.actor("zhao")
    soon = timezone.localdate() + dt.timedelta(days=10)
    auth = actions.create_authorization(
        zhao,
        institution_id=clinic.jia.pk,
        data={
            "kind": "qualification",
            "practitioner_id": clinic.li.pk,
            "procedure_code": "derm-filler-injection",
            "valid_from": dt.date(2020, 1, 1),
            "valid_until": soon,
        },
        activate=True,
    )
    html = clinic.world.client("zhao").get("/authz/authorizations/?expiring=30").content.decode()
    assert f"/authz/authorizations/{auth.pk}/" in html
    assert f"/authz/authorizations/{clinic.auths['procedure'].pk}/" not in html


def test_authorization_pages_are_scoped(clinic):
    pk = clinic.auths["procedure"].pk
    c = clinic.world.client("sun")
    assert f"/authz/authorizations/{pk}/" not in c.get("/authz/authorizations/").content.decode()
    assert c.get(f"/authz/authorizations/{pk}/").status_code == 404
    r = c.post(f"/authz/authorizations/{pk}/transition/", {"action": "suspend", "reason": "x"})
    assert r.status_code == 404
    assert Authorization.objects.get(pk=pk).status == "active"


def test_transitions_via_post_work_and_are_audited(clinic):
    pk = clinic.auths["procedure"].pk
    c = clinic.world.client("zhao")
    detail = c.get(f"/authz/authorizations/{pk}/").content.decode()
    assert 'value="suspend"' in detail and 'value="revoke"' in detail
    assert 'value="reinstate"' not in detail
    r = c.post(f"/authz/authorizations/{pk}/transition/", {"action": "suspend", "reason": "投诉核查"})
    assert r.status_code == 302
    assert Authorization.objects.get(pk=pk).status == "suspended"
    r = c.post(f"/authz/authorizations/{pk}/transition/", {"action": "reinstate", "reason": "核查无误"})
    assert Authorization.objects.get(pk=pk).status == "active"
    entries = AuditEntry.objects.filter(object_type="authz.authorization", object_id=str(pk))
    assert {"authz.authorization.suspended", "authz.authorization.reinstated"} <= set(
        entries.values_list("action", flat=True)
    )
    html = c.get(f"/authz/authorizations/{pk}/").content.decode()
    assert "authz.authorization.suspended" in html
    assert "投诉核查" in html


def test_a_transition_without_reason_is_a_form_error(clinic):
    pk = clinic.auths["procedure"].pk
    r = clinic.world.client("zhao").post(
        f"/authz/authorizations/{pk}/transition/", {"action": "revoke", "reason": " "}
    )
    assert r.status_code == 200
    assert "此操作须填写原因" in r.content.decode()
    assert Authorization.objects.get(pk=pk).status == "active"


def test_an_invalid_transition_is_a_form_error(clinic):
    pk = clinic.auths["procedure"].pk
    r = clinic.world.client("zhao").post(f"/authz/authorizations/{pk}/transition/", {"action": "activate"})
    assert r.status_code == 200
    assert "不能执行此操作" in r.content.decode()


def test_a_doctor_cannot_transition(clinic):
    pk = clinic.auths["procedure"].pk
    c = clinic.world.client("li")
    detail = c.get(f"/authz/authorizations/{pk}/")
    assert detail.status_code == 200
    assert 'value="suspend"' not in detail.content.decode()
    r = c.post(f"/authz/authorizations/{pk}/transition/", {"action": "suspend", "reason": "x"})
    assert r.status_code in (403, 404)
    assert Authorization.objects.get(pk=pk).status == "active"
    assert c.get("/authz/authorizations/new/").status_code == 403


def test_create_form_creates_and_activates(clinic):
    c = clinic.world.client("zhao")
    assert c.get("/authz/authorizations/new/").status_code == 200
    r = c.post(
        "/authz/authorizations/new/",
        {
            "institution": clinic.jia.pk,
            "kind": "qualification",
            "practitioner": clinic.li.pk,
            "procedure_code": "derm-filler-injection",
            "valid_from": "2026-01-01",
            "valid_until": "2026-12-31",
            "activate": "on",
        },
    )
    assert r.status_code == 302, r.content.decode()
    auth = Authorization.objects.get(procedure_code="derm-filler-injection")
    assert auth.status == "active"
    assert r["Location"] == f"/authz/authorizations/{auth.pk}/"


def test_create_form_shows_action_errors(clinic):
    c = clinic.world.client("zhao")
    r = c.post(
        "/authz/authorizations/new/",
        {
            "institution": clinic.jia.pk,
            "kind": "qualification",
            "practitioner": clinic.li.pk,
            "procedure_code": "no-such-code",
            "valid_from": "2026-01-01",
        },
    )
    assert r.status_code == 200
    assert "规则包中没有项目编码 no-such-code" in r.content.decode()
    r = c.post(
        "/authz/authorizations/new/",
        {
            "institution": clinic.jia.pk,
            "kind": "qualification",
            "practitioner": clinic.li.pk,
            "procedure_code": "derm-botulinum-toxin-injection",
            "valid_from": "2026-01-01",
            "activate": "on",
        },
    )
    assert "范围相同且期限重叠" in r.content.decode()
    r = c.post(
        "/authz/authorizations/new/",
        {"institution": clinic.yi.pk, "kind": "qualification", "valid_from": "2026-01-01"},
    )
    assert r.status_code == 200
    assert "errorlist" in r.content.decode()
    assert Authorization.objects.count() == 3


def test_renewal_creates_a_draft(clinic):
    pk = clinic.auths["procedure"].pk
    r = clinic.world.client("zhao").post(
        f"/authz/authorizations/{pk}/renewal/", {"valid_until": "2032-12-31"}
    )
    assert r.status_code == 302
    new = Authorization.objects.get(renews_id=pk)
    assert new.status == "draft"
    assert new.valid_from == dt.date(2031, 1, 1)


def test_decision_detail_explains_when_todays_data_cannot_be_loaded(clinic):
    # Decided by the system with 乙's doctor as supervisor; 甲's compliance officer cannot see that doctor.
    row = actions.check(SYSTEM, clinic.request(supervisor_id=clinic.sun_doctor.pk)).log
    r = clinic.world.client("zhao").get(f"/authz/decisions/{row.pk}/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "无法用今天的数据重新判断" in html
    assert "supervisor_id" in html
    assert "与记录一致" in html


def test_decision_detail_in_english(clinic):
    row = _decide(clinic)
    html = (
        clinic.world.client("zhao")
        .get(f"/authz/decisions/{row.pk}/", HTTP_ACCEPT_LANGUAGE="en")
        .content.decode()
    )
    assert "Matches the record" in html
    assert "Replayed on the facts of the time" in html


def test_decision_log_names_procedures_and_keeps_the_code_in_a_chip(clinic):
    _decide(clinic)
    c = clinic.world.client("zhao")
    zh = c.get("/authz/decisions/").content.decode()
    assert "A型肉毒毒素注射" in zh
    assert '<code class="code-chip">derm-botulinum-toxin-injection</code>' in zh
    en = c.get("/authz/decisions/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Botulinum toxin type A injection" in en and "A型肉毒毒素注射" not in en
