"""Accessibility and tablet width: text contrast in the stylesheet, and in a real browser at 768 px that pages
do not scroll sideways (wide tables scroll in their own region), the nav wraps, and focus is visible."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from . import helpers as h

CSS = Path(settings.BASE_DIR) / "meiguard" / "static" / "meiguard" / "app.css"
WORKSPACE_CSS = Path(settings.BASE_DIR) / "meiguard" / "workspace" / "static" / "workspace" / "workspace.css"
CHROMIUM = "/usr/bin/chromium"


def luminance(hex_colour: str) -> float:
    hex_colour = hex_colour.lstrip("#")
    if len(hex_colour) == 3:
        hex_colour = "".join(c * 2 for c in hex_colour)
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def variables() -> dict[str, str]:
    return dict(re.findall(r"--(\w+):\s*(#[0-9a-fA-F]{3,6})", CSS.read_text()))


def test_text_colours_reach_4_5_to_1_on_every_background():
    v = variables()
    backgrounds = {"card": v["card"], "page": v["bg"], "table header": "#eef1f5"}
    for name in ("fg", "muted", "accent", "ok", "warn", "deny"):
        for where, bg in backgrounds.items():
            assert contrast(v[name], bg) >= 4.5, (name, where, round(contrast(v[name], bg), 2))
    header_bg = re.search(r"header\.top \{[^}]*background:(#[0-9a-fA-F]{6})", CSS.read_text()).group(1)
    assert contrast("#ffffff", header_bg) >= 4.5
    assert contrast("#333333", "#ffffff") >= 4.5  # chart labels
    assert contrast("#ffffff", "#0b5cad") >= 4.5  # primary button text


def test_focus_ring_shows_on_light_and_dark_backgrounds():
    css = CSS.read_text()
    assert ":focus-visible" in css
    # the ring pairs a dark and a yellow line, so one of them contrasts (≥ 3:1) with any background we use
    for bg in ("#ffffff", "#f6f7f9", "#0b2e52"):
        assert max(contrast("#1a1a1a", bg), contrast("#ffbf47", bg)) >= 3


def test_bar_colours_stand_out_from_the_panel():
    css = WORKSPACE_CSS.read_text()
    for cls in ("s-allow", "s-deny"):
        colour = re.search(rf"\.{cls} {{ fill:(#[0-9a-fA-F]{{6}}); }}", css).group(1)
        assert contrast(colour, "#ffffff") >= 3  # graphical objects (WCAG 1.4.11)


# ---- in a browser ---------------------------------------------------------------------------------------------

PAGES = [
    "/",
    "/registry/institutions/",
    "/registry/practitioners/",
    "/registry/lots/?sort=-expiry_date",
    "/authz/authorizations/",
    "/authz/decisions/",
    "/registry/practitioners/{li}/",
]


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls of the test itself are still
    # plain synchronous code (Playwright documents this setting for Django tests).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _page_for(browser, live_server, client, width=768):
    context = browser.new_context(viewport={"width": width, "height": 1024}, locale="zh-CN")
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    return context.new_page()


def test_pages_fit_a_tablet_and_tables_scroll_in_their_own_region(
    transactional_db, clinic, live_server, browser
):
    from django.utils import timezone

    h.expiring_lot(clinic, 5, lot_no="AVERYLONGLOTNUMBERTHATWIDENSTHETABLE2026")
    h.decide(clinic, at=timezone.now(), deny=True)
    page = _page_for(browser, live_server, clinic.world.client("zhao"))
    for path in PAGES:
        page.goto(live_server.url + path.format(li=clinic.li.pk))
        assert page.locator("h1").count() == 1, path
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, (path, scroll, inner)
        for region in page.locator(".table-wrap").all():
            box = region.bounding_box()
            assert box is not None and box["x"] + box["width"] <= inner + 1, path
            assert region.evaluate("e => getComputedStyle(e).overflowX") == "auto", path
    # narrower still (a phone), the lot table no longer fits: it scrolls inside its region, not the page
    narrow = _page_for(browser, live_server, clinic.world.client("zhao"), width=480)
    narrow.goto(live_server.url + "/registry/lots/")
    assert narrow.locator(".table-wrap").first.evaluate("e => e.scrollWidth > e.clientWidth")
    assert narrow.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # the header's links wrap onto more lines instead of widening the page
    page.goto(live_server.url + "/")
    nav = page.locator("header.top nav").bounding_box()
    assert nav is not None and nav["width"] <= 768


def test_keyboard_reaches_sort_headers_with_a_visible_focus_ring(
    transactional_db, clinic, live_server, browser
):
    page = _page_for(browser, live_server, clinic.world.client("zhao"))
    page.goto(live_server.url + "/registry/institutions/")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('sort')"):
            break
    else:
        pytest.fail("no sort header reachable by Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    ring = page.evaluate("getComputedStyle(document.activeElement).boxShadow")
    assert outline == "solid" and "255, 191, 71" in ring
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "sort=" in page.url
    assert page.locator("th[aria-sort]").count() == 1


def test_a_panel_refreshes_in_place_with_htmx(transactional_db, clinic, live_server, browser):
    from django.utils import timezone

    page = _page_for(browser, live_server, clinic.world.client("zhao"))
    page.goto(live_server.url + "/")
    assert page.locator("#panel-denied .headline .n").inner_text() == "0"
    h.decide(clinic, at=timezone.now(), deny=True)
    page.click("#panel-denied .refresh")
    page.wait_for_function("document.querySelector('#panel-denied .headline .n').innerText === '1'")
    assert page.url.rstrip("/") == live_server.url  # no navigation: the panel was swapped
