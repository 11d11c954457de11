"""The idle lock on a shared tablet (issue 16 §6): someone types into a form and walks away; a minute before
the server's idle limit a warning shows, then the page locks behind an overlay asking for the password. Unlocking
brings back the page with what was typed, and the form can still be saved (same session, same CSRF token). While
someone keeps working, the page never locks. The idle limit is shortened to seconds here."""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from meiguard.core.models import ApiToken

from .conftest import login

IDLE_SECONDS = 6


def test_an_idle_page_locks_keeps_the_form_and_unlocks(page, world, settings, shot):
    settings.SESSION_IDLE_SECONDS = IDLE_SECONDS
    login(page, "li")
    page.goto("/account/security/")
    expect(page.locator("body")).to_have_attribute("data-idle-seconds", str(IDLE_SECONDS))
    name = page.get_by_label("名称")
    lock = page.locator("#idle-lock")

    # Someone working is never locked: typing for longer than the limit keeps the session alive.
    for ch in "平板测试令牌":
        name.press_sequentially(ch)
        page.wait_for_timeout(1500)
    expect(lock).to_be_hidden()
    expect(name).to_have_value("平板测试令牌")

    # Walk away: the warning first, then the lock.
    expect(page.locator("#idle-warning")).to_be_visible(timeout=IDLE_SECONDS * 1000)
    shot(page, "warning")
    expect(lock).to_be_visible(timeout=IDLE_SECONDS * 1000 + 3000)
    expect(lock.get_by_role("heading", name="页面已锁定")).to_be_visible()
    expect(page.locator("main")).to_have_attribute("aria-hidden", "true")
    shot(page, "locked")
    serious = [
        v["id"] for v in Axe().run(page).response["violations"] if v.get("impact") in {"serious", "critical"}
    ]
    assert not serious, serious  # the lock itself is usable with a screen reader and a keyboard

    # A wrong password is refused in place; the right one resumes the page.
    lock.get_by_label("密码").fill("not-my-password")
    lock.get_by_role("button", name="解锁").click()
    expect(lock.get_by_role("alert")).to_contain_text("密码不正确")
    expect(lock).to_be_visible()
    lock.get_by_label("密码").fill("pw-li-123456")
    lock.get_by_role("button", name="解锁").click()
    expect(lock).to_be_hidden()
    expect(name).to_have_value("平板测试令牌")  # what was typed is still there
    shot(page, "unlocked")

    # And the form still saves: the session and its CSRF token are the same as before the lock.
    page.get_by_role("button", name="创建").click()
    expect(page.get_by_role("heading", name="令牌已创建")).to_be_visible()
    assert ApiToken.objects.filter(user=world.users["li"], name="平板测试令牌").exists()
