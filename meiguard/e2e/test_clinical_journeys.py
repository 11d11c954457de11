"""The treatment case in a real browser at tablet width (768 px): a grade-1 toxin case from consultation to a
closed record (the client draws her signature on the canvas with the mouse), a surgical case with a committee
review and all three checklist nodes, a case blocked at each gate with its reasons, and a dose over the
institution's limit refused during the record.

Steps that are not what a journey tests are done with the domain actions (``clin`` helpers), so the browser
only walks the pages under test.
"""

from __future__ import annotations

import re
from decimal import Decimal

from playwright.sync_api import Page, expect

from meiguard.authz import actions as authz_actions
from meiguard.clinical import actions
from meiguard.clinical.models import Case, ChecklistNode, ConsentSignature, OperationRecord, Usage
from meiguard.clinical.tests.conftest import BREAST, GOOD_ANSWERS, TOXIN, clin  # noqa: F401  (fixture)
from meiguard.registry.models import Product
from meiguard.registry.tests.factories import gtin
from meiguard.workflow import actions as wf

from .conftest import login, tablet
from .helpers import switch_user

HIGH_RISK = GOOD_ANSWERS | {"hypertension": "uncontrolled", "previous_complication": "major"}  # 8 points


def _case_page(page: Page, case: Case) -> None:
    page.goto(f"/clinical/cases/{case.pk}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(case.procedure_name)


def _toxin_code(clin) -> str:  # noqa: F811
    lot = clin.clinic.lot
    Product.objects.filter(pk=lot.product_id).update(udi_di=gtin(41))
    return f"(01){gtin(41)}(17)301231(10){lot.lot_no}"


def _no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_a_grade_1_toxin_case_from_consultation_to_closed_record(page, clin, shot):  # noqa: F811
    tablet(page)
    code = _toxin_code(clin)
    login(page, "li")
    # The client file is found by phone from the 临床 entry.
    page.get_by_role("link", name="临床", exact=True).click()
    page.get_by_label("姓名、手机号或证件号码").fill(clin.client.phone)
    page.get_by_role("button", name="查找", exact=True).click()
    page.get_by_role("link", name=clin.client.name).click()
    page.get_by_text("新建病例").click()
    page.get_by_label("项目").select_option(TOXIN)
    page.get_by_label("主诊/手术医师").select_option(str(clin.clinic.li.pk))
    page.get_by_role("button", name="创建病例").click()
    case = Case.objects.get(client=clin.client)
    expect(page.locator("#step-consultation")).to_have_class(re.compile("is-next"))

    page.get_by_label("求美需求").fill("改善鱼尾纹")
    page.get_by_role("button", name="保存面诊记录").click()
    page.get_by_role("button", name="医师签名确认面诊").click()
    expect(page.locator("#step-consultation")).to_contain_text("已签署")

    # Consent: the client draws her signature with the mouse (pointer events) and signs.
    consent = page.locator("#step-consent")
    expect(consent).to_have_class(re.compile("is-next"))
    pad = page.locator("canvas[data-signature-pad]")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 20, box["y"] + box["height"] * 0.7)
    page.mouse.down()
    for i in range(1, 12):
        page.mouse.move(box["x"] + 20 + i * 25, box["y"] + box["height"] * (0.3 if i % 2 else 0.7), steps=3)
    page.mouse.up()
    expect(consent.get_by_text("已签名", exact=True)).to_be_visible()
    shot(page, "consent-drawn")
    consent.get_by_role("button", name="签署同意").click()
    expect(page.locator("#step-consent")).to_contain_text("已签署同意")
    sig = ConsentSignature.objects.get(case=case)
    assert sig.signature_image.startswith("data:image/png;base64,") and len(sig.signature_hash) == 64

    for item, value in GOOD_ANSWERS.items():
        page.locator(f'input[name="a_{item}"][value="{value}"]').check()
    page.get_by_role("button", name="计算并保存评估").click()
    expect(page.get_by_test_id("assessment-result")).to_contain_text("评估达标")
    page.get_by_role("button", name="主诊医师签名").click()
    page.get_by_role("button", name="开启分级评估").click()
    page.get_by_role("button", name=re.compile("主诊医师确认")).click()
    expect(page.locator("#step-review")).to_contain_text("主诊医师确认:✓")

    switch_user(page, "zhang")
    _case_page(page, case)
    page.get_by_role("button", name=re.compile("护士确认")).click()
    expect(page.locator("#step-review")).to_contain_text("已通过")

    switch_user(page, "li")
    _case_page(page, case)
    page.get_by_role("button", name="准入核验并开始").click()
    expect(page.get_by_test_id("engine-verdict")).to_contain_text("允许")

    # During the record: scan the lot's UDI, give the actual dose, time the site with the stopwatch.
    scan = page.get_by_label("扫描批次/UDI 条码")
    expect(scan).to_be_focused()
    scan.fill(code)
    page.get_by_label("实际剂量").fill("50")
    page.get_by_label("部位", exact=True).fill("眼周")
    page.get_by_role("button", name="开始计时").click()
    page.get_by_role("button", name="停止计时").click()
    expect(page.get_by_label("部位操作时长(分钟)")).to_have_value("1")
    page.get_by_role("button", name="核验并记录").click()
    expect(page.locator("#step-usage")).to_contain_text(clin.clinic.lot.lot_no)
    page.get_by_label("治疗/手术记录").fill("注射顺利,无不适")
    page.get_by_role("button", name="操作医师签名并结束").click()
    expect(page.locator("#step-close")).to_contain_text("已结束")
    _no_sideways_scroll(page)
    shot(page, "closed")

    case.refresh_from_db()
    assert case.status == "closed"
    usage = Usage.objects.get(case=case)
    assert (usage.dose_value, usage.site, usage.minutes) == (50, "眼周", 1)


def test_a_surgical_case_with_committee_review_and_three_checklist_nodes(page, clin, shot):  # noqa: F811
    tablet(page)
    w = clin.world
    wf.save_committee(
        w.actor("wang"),
        institution_id=clin.clinic.jia.pk,
        name="医疗质量与安全管理委员会",
        quorum=2,
        member_ids=[w.users["zhao"].pk, w.users["wang"].pk],
    )
    case = clin.case(BREAST)
    clin.consult(case)
    clin.consent(case)
    clin.assess(case, HIGH_RISK)
    actions.open_review(clin.actor("zhao"), case.pk)

    login(page, "zhao")
    _case_page(page, case)
    review = page.locator("#step-review")
    expect(review).to_contain_text("委员会")
    expect(review).to_contain_text("须 2 名委员同意")
    page.get_by_label("讨论科室").fill("美容外科")
    page.get_by_label("病例讨论记录").fill("高血压未控制,先请心内科会诊后再议;会诊意见可耐受。")
    page.get_by_role("button", name="记录病例讨论").click()
    page.get_by_role("button", name="提交意见").click()
    expect(review).to_contain_text("待审核")
    switch_user(page, "wang")
    _case_page(page, case)
    page.get_by_role("button", name="提交意见").click()
    expect(page.locator("#step-review")).to_contain_text("已通过")

    # Node 1 by the surgeon (scanning the wristband first), the anaesthetist and the nurse.
    for who, party in (("zhou", "手术医师"), ("ma", "麻醉医师"), ("zhang", "手术室护士")):
        switch_user(page, who)
        _case_page(page, case)
        node = page.locator("#step-node1")
        scan = node.get_by_label("扫描求美者腕带或病例条码")
        if scan.count():
            expect(scan).to_be_focused()
            scan.fill(case.code)
        for box in node.get_by_role("checkbox").all():
            box.check()
        node.get_by_label("签名方").select_option(label=party)
        node.get_by_role("button", name="核查无误,签名").click()
    expect(page.locator("#step-node1")).to_contain_text("已完成")
    page.get_by_role("button", name="准入核验并开始").click()
    expect(page.get_by_test_id("engine-verdict")).to_contain_text("允许")

    # Nodes 2 and 3: the surgeon and anaesthetist sign on their tablets; the nurse completes them here.
    for node_name in ("before_incision", "before_leaving"):
        items = dict.fromkeys(actions.policy.node_item_ids(node_name), True)
        for who, party in (("zhou", "surgeon"), ("ma", "anesthetist")):
            actions.sign_checklist_node(
                clin.actor(who), case.pk, node=node_name, party=party, items=items, scanned=[case.code]
            )
        _case_page(page, case)
        n = 2 if node_name == "before_incision" else 3
        node = page.locator(f"#step-node{n}")
        for box in node.get_by_role("checkbox").all():
            box.check()
        node.get_by_role("button", name="核查无误,签名").click()
        expect(page.locator(f"#step-node{n}")).to_contain_text("已完成")

    switch_user(page, "zhou")
    _case_page(page, case)
    page.get_by_role("button", name="操作医师签名并结束").click()
    expect(page.locator("#step-close")).to_contain_text("已结束")
    shot(page, "surgical-closed")
    assert ChecklistNode.objects.filter(case=case, completed_at__isnull=False).count() == 3
    assert Case.objects.get(pk=case.pk).status == "closed"


def test_a_case_is_blocked_at_each_gate_with_its_reasons(page, clin, shot):  # noqa: F811
    tablet(page)
    no_consent = clin.case()
    clin.consult(no_consent)
    clin.assess(no_consent)
    clin.review(no_consent)

    failed = clin.case(client=clin.new_client("李女士"))
    clin.consult(failed)
    clin.consent(failed)
    clin.assess(failed, GOOD_ANSWERS | {"pregnancy": "yes"}, sign=False)

    no_anesthetist = clin.case(BREAST, client=clin.new_client("周女士"))
    clin.consult(no_anesthetist)
    clin.consent(no_anesthetist)
    clin.assess(no_anesthetist, sign=False)
    actions.sign_assessment(clin.actor("zhou"), no_anesthetist.pk, role="chief")
    clin.review(no_anesthetist)
    clin.node(no_anesthetist, "before_anesthesia")

    no_node1 = clin.case(BREAST, client=clin.new_client("吴女士"))
    clin.consult(no_node1)
    clin.consent(no_node1)
    clin.assess(no_node1)
    clin.review(no_node1)

    engine = clin.ready(TOXIN, client=clin.new_client("郑女士"))
    authz_actions.change_status(
        clin.actor("zhao"), clin.clinic.auths["procedure"].pk, action="suspend", reason="年度审查"
    )

    login(page, "zhao")
    expected = {
        no_consent: ["CONSENT_NOT_SIGNED"],
        failed: ["ASSESSMENT_FAILED"],
        no_anesthetist: ["ASSESSMENT_ANESTHETIST_SIGNATURE_MISSING"],
        engine: ["ENGINE_DENIED", "AUTHORIZATION_SUSPENDED"],
        no_node1: ["CHECKLIST_NODE1_INCOMPLETE"],
    }
    for case, codes in expected.items():
        _case_page(page, case)
        page.get_by_role("button", name="准入核验并开始").click()
        gate = page.locator("#gate-result")
        expect(gate).to_be_visible()
        for code in codes:
            reason = gate.get_by_role("listitem").filter(has_text=code)
            expect(reason).to_contain_text("依据")
        # Full width on the tablet: the verdict spans the content column.
        width = gate.bounding_box()["width"]  # type: ignore[index]
        assert width >= page.locator("main").bounding_box()["width"] - 40  # type: ignore[index]
        _no_sideways_scroll(page)
        assert not OperationRecord.objects.filter(case=case).exists()
    shot(page, "blocked-engine-deny")
    gate = page.locator("#gate-result")
    expect(gate.get_by_role("listitem").filter(has_text="CHECKLIST_NODE1_INCOMPLETE")).to_contain_text(
        "完成麻醉实施前核查"
    )


def test_a_toxin_dose_over_the_institution_limit_is_refused_on_the_page(page, clin, shot):  # noqa: F811
    tablet(page)
    code = _toxin_code(clin)
    case = clin.ready(TOXIN)
    actions.open_record(clin.actor("li"), case.pk)
    actions.add_usage(
        clin.actor("li"), case.pk, usage_key="first", code=code, dose_value=Decimal(120), site="额部"
    )
    login(page, "li")
    _case_page(page, case)
    page.get_by_label("扫描批次/UDI 条码").fill(code)
    page.get_by_label("实际剂量").fill("100")
    page.get_by_label("部位", exact=True).fill("眉间")
    page.get_by_role("button", name="核验并记录").click()
    refused = page.locator("#usage-refused")
    expect(refused).to_contain_text("授权核验未通过,本次使用未记录")
    expect(refused).to_contain_text("依据")
    expect(refused.get_by_role("listitem").first).to_contain_text(re.compile("DOSE|200"))
    _no_sideways_scroll(page)
    shot(page, "dose-refused")
    assert Usage.objects.filter(case=case).count() == 1
