"""The clinical pages on a phone (390 x 844, mobile emulation with touch): no sideways scrolling on the client
search, the client file, the case page at several steps, the gate refusal and the record with the scan input;
the verdict and reason blocks span the screen and are readable without zooming; the primary actions are touch
targets of at least 40 x 40 px.

``is_mobile`` makes Chromium honour the page's viewport meta tag (as a phone does): without it a page would be
laid out 980 px wide and shrunk, so the tests also check that the layout viewport really is 390 px wide.
Steps not under test are done with the domain actions (``clin`` helpers)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from meiguard.clinical import actions
from meiguard.clinical.tests.conftest import BREAST, GOOD_ANSWERS, TOXIN, clin  # noqa: F401  (fixture)
from meiguard.workflow import actions as wf

from .conftest import PHONE, login
from .helpers import switch_user

HIGH_RISK = GOOD_ANSWERS | {"hypertension": "uncontrolled", "previous_complication": "major"}
MIN_TARGET = 40  # px, both ways
# The primary actions of a clinical page: the step's main buttons, the step chips, disclosure toggles, the
# clinical sub-navigation, the links that open a file or case from a list, and a refusal's "next step" link.
PRIMARY = ", ".join(
    f"main {s}"
    for s in (
        "button.primary",
        "button.big",
        "a.button.big",
        "summary.big",
        ".steps a",
        ".subnav a",
        "#search-results a",
        "table.compact td a",
        ".gate-reasons .todo a",
    )
)


def fits_the_phone(p: Page, where: str) -> None:
    """No sideways scrolling, at a real 390 px layout width; every primary action is a ≥ 40 px target."""
    width = p.evaluate("window.innerWidth")
    assert width == PHONE["width"], f"{where}: laid out {width} px wide (viewport meta tag?)"
    scroll = p.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        wide = p.evaluate(
            """() => [...document.querySelectorAll('main *')]
                 .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
                 .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""
        )
        pytest.fail(f"{where}: scrolls sideways ({scroll} > {width} px): {wide}")
    small: list[str] = []
    for target in p.locator(PRIMARY).all():
        if not target.is_visible():
            continue
        box = target.bounding_box()
        assert box is not None
        if box["height"] < MIN_TARGET or box["width"] < MIN_TARGET:
            small.append(f"{target.inner_text().strip()[:20]!r} {box['width']:.0f}x{box['height']:.0f}")
    assert not small, f"{where}: touch targets under {MIN_TARGET} px: {small}"


def full_width(p: Page, block: Locator, where: str) -> None:
    """The block fills the column it sits in (its parent's content box), lies inside the screen, takes most of
    the screen's width, and its text is readable unzoomed (≥ 14 px)."""
    expect(block).to_be_visible()
    block.scroll_into_view_if_needed()
    box: Any = block.bounding_box()
    column = block.evaluate(
        """e => { const s = getComputedStyle(e.parentElement);
                  return e.parentElement.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight); }"""
    )
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], f"{where}: {box} outside the screen"
    assert box["width"] >= column - 1, f"{where}: {box['width']:.0f} px of a {column:.0f} px column"
    assert box["width"] >= 0.8 * PHONE["width"], f"{where}: only {box['width']:.0f} px wide"
    size = block.evaluate(
        "e => parseFloat(getComputedStyle(e.querySelector('strong, h2, h3, p') || e).fontSize)"
    )
    assert size >= 14, f"{where}: verdict text {size}px"


def _case(p: Page, case) -> None:
    p.goto(f"/clinical/cases/{case.pk}/")
    expect(p.get_by_role("heading", level=1)).to_contain_text(case.procedure_name)


def test_the_clinical_pages_fit_a_phone(phone: Page, clin, shot):  # noqa: F811
    w = clin.world
    wf.save_committee(
        w.actor("wang"),
        institution_id=clin.clinic.jia.pk,
        name="医疗质量与安全管理委员会",
        quorum=2,
        member_ids=[w.users["zhao"].pk, w.users["wang"].pk],
    )
    new_case = clin.case()  # consultation is next
    consent_next = clin.case(client=clin.new_client("李女士"))  # the canvas
    clin.consult(consent_next)
    committee = clin.case(BREAST, client=clin.new_client("周女士"))  # a committee review with warnings
    clin.consult(committee)
    clin.consent(committee)
    clin.assess(committee, HIGH_RISK)
    actions.open_review(clin.actor("zhao"), committee.pk)
    refused = clin.case(BREAST, client=clin.new_client("吴女士"))  # node 1 missing: the gate refuses
    clin.consult(refused)
    clin.consent(refused)
    clin.assess(refused)
    clin.review(refused)
    in_record = clin.ready(TOXIN, client=clin.new_client("郑女士"))  # the record with the scan input
    actions.open_record(clin.actor("li"), in_record.pk)

    login(phone, "zhao")
    # Client search (htmx results) and the client file with the new-case form open; on a phone the main
    # navigation is behind 菜单.
    phone.get_by_role("button", name="菜单").click()
    phone.get_by_role("link", name="临床", exact=True).click()
    phone.get_by_label("姓名、手机号或证件号码").fill("王")
    phone.get_by_role("button", name="查找", exact=True).click()
    expect(phone.get_by_role("link", name=clin.client.name)).to_be_visible()
    fits_the_phone(phone, "client search")
    shot(phone, "search")
    phone.get_by_role("link", name=clin.client.name).click()
    phone.get_by_text("新建病例").click()
    expect(phone.get_by_role("button", name="创建病例")).to_be_visible()
    fits_the_phone(phone, "client file")
    shot(phone, "client-file")

    for case, where in (
        (new_case, "case: consultation"),
        (consent_next, "case: consent"),
        (committee, "case: committee review"),
    ):
        _case(phone, case)
        fits_the_phone(phone, where)
        shot(phone, where)
    expect(phone.locator("#step-review").get_by_role("note")).to_be_visible()
    full_width(phone, phone.locator("#step-review").get_by_role("note"), "risk warnings")

    # The gate refusal: every reason full width, readable.
    _case(phone, refused)
    phone.get_by_role("button", name="准入核验并开始").click()
    gate = phone.locator("#gate-result")
    expect(gate.get_by_role("listitem").filter(has_text="CHECKLIST_NODE1_INCOMPLETE")).to_contain_text("依据")
    full_width(phone, gate, "gate refusal")
    fits_the_phone(phone, "gate refusal")
    shot(phone, "gate-refused")

    # The open record: verdict full width, the scan input focused and wide enough to read a UDI.
    switch_user(phone, "li")
    _case(phone, in_record)
    full_width(phone, phone.get_by_test_id("engine-verdict"), "engine verdict")
    scan = phone.get_by_label("扫描批次/UDI 条码")
    expect(scan).to_be_focused()
    box: Any = scan.bounding_box()
    assert box["height"] >= MIN_TARGET and box["width"] >= PHONE["width"] - 80, box
    fits_the_phone(phone, "record")
    shot(phone, "record")
