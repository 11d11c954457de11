"""Type-ahead on the new-case form: procedures grouped by subject, narrowed by typing part of the Chinese
name (the first match is selected); doctors likewise."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from meiguard.clinical.tests.conftest import TOXIN, clin  # noqa: F401  (fixture)

from .conftest import login, tablet


def test_typing_part_of_a_name_narrows_procedures_and_doctors(page: Page, clin):  # noqa: F811
    tablet(page)
    login(page, "zhao")
    page.goto(f"/clinical/clients/{clin.client.pk}/")
    page.get_by_text("新建病例").click()
    select = page.locator("#n-proc")
    assert select.locator("optgroup").count() >= 2  # grouped by subject
    assert "美容皮肤科" in select.locator("optgroup").evaluate_all("gs => gs.map(g => g.label)")
    page.locator('[data-filter-for="n-proc"]').fill("肉毒")
    expect(select).to_have_value(TOXIN)
    visible = select.locator("option:not([hidden])").all_inner_texts()
    assert visible and all("肉毒" in text for text in visible)
    page.locator('[data-filter-for="n-op"]').fill("周")
    expect(page.locator("#n-op")).to_have_value(str(clin.surgeon.pk))
