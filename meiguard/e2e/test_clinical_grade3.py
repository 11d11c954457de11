"""A grade-3 operation in a real browser at tablet width (768 px), at a cosmetic hospital that may perform it
(``hospital`` fixture: 丙美容医院, 全颜面及颌颈部除皱术, grade 3 under general anaesthesia).

Each person works on their own tablet (a browser context signed in once): the surgeon 陈医生 (``chen``), the
anaesthetist 陆医生 (``lu``), the OR nurse 何护士 (``he``), and two committee members, 医务科 ``xu`` and
林医生 (``lin``). Everything the journey walks is done on the pages; only the hospital itself (licence,
filings, authorizations, committee, price, consent template, the client's file and PIPL consent, the suture
lot) is set up through the domain actions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from meiguard.audit import log as audit_log
from meiguard.audit.models import AuditEntry
from meiguard.clinical.models import (
    Assessment,
    Case,
    ChecklistNode,
    ConsentSignature,
    Consultation,
    OperationRecord,
    Review,
    ReviewVote,
    Usage,
)
from meiguard.clinical.tests.conftest import GOOD_ANSWERS
from meiguard.clinical.tests.hospital import LIFT, Hospital, hospital  # noqa: F401  (fixture)

from .conftest import TABLET, TIMEOUT_MS, login


@pytest.fixture
def tablets(browser: Browser, live_server, page: Page, settings) -> Iterator[Callable[[str], Page]]:
    """``tablets("chen")``: a 768 px page signed in as ``chen`` in its own browser context (made once per user).
    JavaScript errors and CSP violations on any of them fail the test, as on ``page``."""
    contexts = []
    pages: dict[str, Page] = {}
    errors: list[str] = []

    def open_as(username: str) -> Page:
        if username not in pages:
            context = browser.new_context(
                base_url=live_server.url,
                viewport=TABLET,  # type: ignore[arg-type]
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
            )
            context.set_default_timeout(TIMEOUT_MS)
            contexts.append(context)
            new = context.new_page()
            new.on("pageerror", lambda exc: errors.append(f"{username}: {exc}"))
            new.on(
                "console",
                lambda msg: (
                    errors.append(f"{username}: {msg.text}")
                    if "Content Security Policy" in msg.text
                    else None
                ),
            )
            login(new, username)
            pages[username] = new
        return pages[username]

    yield open_as
    for context in contexts:
        context.close()
    if errors:
        pytest.fail("JavaScript errors on the page:\n" + "\n".join(errors), pytrace=False)


def _open_case(p: Page, case: Case) -> None:
    p.goto(f"/clinical/cases/{case.pk}/")
    expect(p.get_by_role("heading", level=1)).to_contain_text("全颜面及颌颈部除皱术")


def _sign_node(p: Page, n: int, party: str, *, scan: str | None = None) -> None:
    node = p.locator(f"#step-node{n}")
    if scan is not None:
        field = node.get_by_label("扫描求美者腕带或病例条码")
        field.fill(scan)
    else:  # only the first signature of a node asks for the wristband
        expect(node.get_by_label("扫描求美者腕带或病例条码")).to_have_count(0)
    for box in node.get_by_role("checkbox").all():
        box.check()
    node.get_by_label("签名方").select_option(label=party)
    node.get_by_role("button", name="核查无误,签名").click()


def _three_signatures(tablets: Callable[[str], Page], case: Case, n: int) -> None:
    """Node ``n`` signed on three tablets: surgeon (scanning the wristband first), anaesthetist, OR nurse."""
    for who, party in (("chen", "手术医师"), ("lu", "麻醉医师"), ("he", "手术室护士")):
        p = tablets(who)
        _open_case(p, case)
        _sign_node(p, n, party, scan=case.code if who == "chen" else None)
        expect(p.locator(f"#step-node{n}").get_by_text(re.compile(rf"{party}:✓"))).to_be_visible()
    expect(p.locator(f"#step-node{n}")).to_contain_text("已完成")


def test_a_grade_3_lift_with_committee_review_and_three_checklist_nodes(
    tablets,
    hospital: Hospital,  # noqa: F811
    shot,
):
    h = hospital
    chen = tablets("chen")

    # The surgeon finds the client and opens a case for the grade-3 lift with the anaesthetist and nurse.
    chen.get_by_role("link", name="临床", exact=True).click()
    chen.get_by_label("姓名、手机号或证件号码").fill(h.client.phone)
    chen.get_by_role("button", name="查找", exact=True).click()
    chen.get_by_role("link", name=h.client.name).click()
    chen.get_by_text("新建病例").click()
    chen.get_by_label("项目").select_option(LIFT)
    chen.get_by_label("主诊/手术医师").select_option(str(h.surgeon.pk))
    chen.get_by_label("麻醉医师").select_option(str(h.anesthetist.pk))
    chen.get_by_label("护士", exact=True).select_option(str(h.nurse.pk))
    chen.get_by_role("button", name="创建病例").click()
    expect(chen.get_by_role("heading", level=1)).to_contain_text("3级")
    case = Case.objects.get(client=h.client)
    assert (case.grade, case.anesthesia, case.anesthetist_id) == (3, "general", h.anesthetist.pk)

    # Consultation, signed by the doctor himself.
    chen.get_by_label("求美需求").fill("面颈部松弛,希望改善下颌缘轮廓")
    chen.get_by_role("button", name="保存面诊记录").click()
    expect(chen.locator("#step-consultation")).to_contain_text("¥68000")
    chen.get_by_role("button", name="医师签名确认面诊").click()
    expect(chen.locator("#step-consultation")).to_contain_text("已签署")

    # Consent: the client draws her signature on the canvas of the surgeon's tablet.
    consent = chen.locator("#step-consent")
    expect(consent).to_have_class(re.compile("is-next"))
    expect(consent).to_contain_text("面神经损伤")
    pad = chen.locator("canvas[data-signature-pad]")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box is not None
    chen.mouse.move(box["x"] + 20, box["y"] + box["height"] * 0.6)
    chen.mouse.down()
    for i in range(1, 10):
        chen.mouse.move(box["x"] + 20 + i * 30, box["y"] + box["height"] * (0.3 if i % 2 else 0.7), steps=3)
    chen.mouse.up()
    expect(consent.get_by_text("已签名", exact=True)).to_be_visible()
    consent.get_by_role("button", name="签署同意").click()
    expect(chen.locator("#step-consent")).to_contain_text("已签署同意")

    # Assessment from the form (with the ASA class, as anaesthesia is general); the 主诊 signs on his tablet…
    for item, value in GOOD_ANSWERS.items():
        chen.locator(f'input[name="a_{item}"][value="{value}"]').check()
    chen.get_by_label("ASA 分级").select_option("1")
    chen.get_by_role("button", name="计算并保存评估").click()
    expect(chen.get_by_test_id("assessment-result")).to_contain_text("评估达标")
    chen.get_by_role("button", name="主诊医师签名").click()
    expect(chen.locator("#step-assessment")).to_contain_text("主诊医师签名:✓ 陈医生")

    # …and the anaesthetist on his.
    lu = tablets("lu")
    _open_case(lu, case)
    lu.get_by_role("button", name="麻醉医师签名").click()
    expect(lu.locator("#step-assessment")).to_contain_text("麻醉医师签名:✓ 陆医生")
    shot(lu, "assessment-signed-twice")

    # Graded review: grade-3 surgery goes to the committee, 2 of its 3 members must approve.
    _open_case(chen, case)
    chen.get_by_role("button", name="开启分级评估").click()
    review = chen.locator("#step-review")
    expect(review).to_contain_text("委员会")
    expect(review).to_contain_text("须 2 名委员同意")
    expect(review.get_by_role("note")).to_contain_text("3级手术")

    xu = tablets("xu")
    _open_case(xu, case)
    xu.get_by_label("讨论科室").fill("美容外科")
    xu.get_by_label("病例讨论记录").fill("适应证明确,全麻风险评估 ASA 1 级,术前备血,同意手术。")
    xu.get_by_role("button", name="记录病例讨论").click()
    xu.get_by_role("button", name="提交意见").click()
    expect(xu.locator("#step-review")).to_contain_text("待审核")
    expect(xu.locator("#step-review").get_by_role("button", name="提交意见")).to_be_visible()

    lin = tablets("lin")
    _open_case(lin, case)
    lin.get_by_role("button", name="提交意见").click()
    expect(lin.locator("#step-review")).to_contain_text("已通过")
    shot(lin, "committee-approved")

    # Node 1 (before anaesthesia): the wristband is scanned, then surgeon, anaesthetist and OR nurse sign.
    _three_signatures(tablets, case, 1)

    # The gate: the engine allows, the verdict is shown full width with its decision-log id.
    _open_case(chen, case)
    chen.get_by_role("button", name="准入核验并开始").click()
    verdict = chen.get_by_test_id("engine-verdict")
    expect(verdict).to_contain_text("允许")
    expect(verdict).to_contain_text("核验记录 #")
    shot(chen, "gate-allowed")

    # Node 2 (before incision), then the nurse scans the sutures, then node 3 (before leaving the room).
    _three_signatures(tablets, case, 2)
    he = tablets("he")
    scan = he.get_by_label("扫描批次/UDI 条码")
    expect(scan).to_be_focused()
    scan.fill(h.suture_code)
    he.get_by_label("实际剂量").fill("2")
    he.get_by_label("部位", exact=True).fill("耳前及颌下切口")
    he.get_by_role("button", name="核验并记录").click()
    expect(he.locator("#step-usage")).to_contain_text(h.lot.lot_no)
    _three_signatures(tablets, case, 3)

    # The surgeon signs the record closed.
    _open_case(chen, case)
    chen.get_by_label("治疗/手术记录").fill("全麻下行全颜面及颌颈部除皱术,手术顺利,出血约 80 ml。")
    chen.get_by_role("button", name="操作医师签名并结束").click()
    expect(chen.locator("#step-close")).to_contain_text("已结束")
    assert chen.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(chen, "closed")

    # ---- the database after the journey
    case.refresh_from_db()
    assert case.status == "closed"
    record = OperationRecord.objects.select_related("decision").get(case=case)
    assert record.status == "closed" and record.operator_id == h.surgeon.pk and record.operator_signed_at
    decision = record.decision  # the engine's decision, stored with the record
    assert decision.outcome in ("allow", "allow_with_warnings"), decision.reason_codes
    assert (decision.procedure_code, decision.institution_id, decision.practitioner_id) == (
        LIFT,
        h.inst.pk,
        h.surgeon.pk,
    )
    assert decision.request["anesthetist_id"] == h.anesthetist.pk
    assert Consultation.objects.get(case=case).doctor_id == h.surgeon.pk
    sig = ConsentSignature.objects.get(case=case)
    assert sig.decision == "signed" and sig.signature_image.startswith("data:image/png;base64,")
    a = Assessment.objects.get(case=case)
    assert (a.chief_signed_by_id, a.anesthetist_signed_by_id) == (h.surgeon.pk, h.anesthetist.pk)
    r = Review.objects.get(case=case)
    assert (r.kind, r.status, r.required_approvals, r.committee_id) == (
        "committee",
        "approved",
        2,
        h.committee.pk,
    )
    voters = set(
        ReviewVote.objects.filter(review=r, verdict="approve").values_list("user__username", flat=True)
    )
    assert voters == {"xu", "lin"}
    nodes = ChecklistNode.objects.filter(case=case).order_by("pk")
    assert [n.node for n in nodes] == ["before_anesthesia", "before_incision", "before_leaving"]
    for n in nodes:
        assert n.completed_at is not None
        assert (n.surgeon_id, n.anesthetist_id, n.nurse_id) == (h.surgeon.pk, h.anesthetist.pk, h.nurse.pk)
        assert case.code in n.scanned
    usage = Usage.objects.get(case=case)
    assert (usage.lot_id, usage.dose_value, usage.client_id) == (h.lot.pk, 2, h.client.pk)

    actions = list(AuditEntry.objects.filter(organization=h.org).values_list("action", flat=True))
    for code, times in {
        "clinical.case.created": 1,
        "clinical.consultation.signed": 1,
        "clinical.consentsignature.signed": 1,
        "clinical.assessment.signed": 2,
        "clinical.review.discussed": 1,
        "clinical.review.voted": 2,
        "clinical.review.decided": 1,
        "clinical.checklistnode.signed": 9,
        "clinical.checklistnode.completed": 3,
        "clinical.operationrecord.opened": 1,
        "clinical.usage.added": 1,
        "clinical.operationrecord.closed": 1,
    }.items():
        assert actions.count(code) == times, (code, actions.count(code))
    assert audit_log.verify([audit_log.chain_for(h.org.pk)]) == []  # the hash chain is intact
