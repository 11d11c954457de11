"""A filler case in the browser at tablet width: the institution's own policy limits hyaluronic acid to 2 ml per
session; the doctor records 1.2 ml at one site (the stopwatch fills the minutes), then 1.0 ml at another, which the
engine refuses on what was actually given (2.2 ml), citing 本机构规范. Then 0.8 ml (exactly 2 ml) is recorded."""

from __future__ import annotations

import re

from django.utils import timezone
from playwright.sync_api import Page, expect

from meiguard.authz import snapshot
from meiguard.clinical import actions
from meiguard.clinical.models import Usage
from meiguard.clinical.tests.conftest import FILLER, clin  # noqa: F401  (fixture)
from meiguard.clinical.tests.test_record import _udi, filler  # noqa: F401  (fixture)
from meiguard.rules import institution

from .conftest import login, tablet


def _record(page: Page, code: str, ml: str, site: str, *, timer: bool = False) -> None:
    page.get_by_label("扫描批次/UDI 条码").fill(code)
    page.get_by_label("实际剂量").fill(ml)
    page.get_by_label("部位", exact=True).fill(site)
    if timer:
        page.get_by_role("button", name="开始计时").click()
        page.wait_for_timeout(300)
        page.get_by_role("button", name="停止计时").click()
        expect(page.get_by_label("部位操作时长(分钟)")).to_have_value(re.compile(r"^[0-9]+$"))
    else:
        page.get_by_label("部位操作时长(分钟)").fill("10")
    page.get_by_role("button", name="核验并记录").click()


def test_filler_over_the_institutions_volume_is_refused_during_the_record(page, clin, filler, shot):  # noqa: F811
    product, lot = filler
    zhao = clin.actor("zhao")  # 甲's compliance officer sets the institution's own limit
    draft = institution.save_draft(zhao, clin.clinic.jia.pk, values={"filler_ml_per_session": "2"})
    institution.publish(zhao, clin.clinic.jia.pk, draft.version, effective_from=timezone.localdate())
    snapshot.clear()
    case = clin.ready(FILLER)
    actions.open_record(clin.actor("li"), case.pk)

    tablet(page)
    login(page, "li")
    page.goto(f"/clinical/cases/{case.pk}/")
    _record(page, _udi(product, lot.lot_no, "s1"), "1.2", "鼻唇沟", timer=True)
    expect(page.locator("#usage-refused")).to_have_count(0)
    assert Usage.objects.filter(case=case).count() == 1

    _record(page, _udi(product, lot.lot_no, "s2"), "1.0", "下颌")
    refused = page.locator("#usage-refused")
    expect(refused).to_contain_text("授权核验未通过,本次使用未记录")
    expect(refused).to_contain_text("本机构规范")
    expect(refused).to_contain_text("2.2")
    shot(page, "filler-volume-refused")
    assert Usage.objects.filter(case=case).count() == 1

    _record(page, _udi(product, lot.lot_no, "s3"), "0.8", "下颌")
    expect(page.locator("#usage-refused")).to_have_count(0)
    assert sorted(str(u.dose_value.normalize()) for u in Usage.objects.filter(case=case)) == ["0.8", "1.2"]
