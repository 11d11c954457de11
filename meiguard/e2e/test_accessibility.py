"""Issue 16 item 8: axe-core (the copy shipped in the ``axe-playwright-python`` package, never a CDN) on the main
staff pages of the demo world, in both languages: zero serious or critical violations.

Also saves screenshots of those pages at 390/768/1366 px in both languages under
``test-output/screenshots/<test>/`` (git-ignored) for visual review.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.core.management import call_command
from playwright.sync_api import Page

from meiguard.authz.models import Authorization, DecisionLog
from meiguard.clinical.models import Case
from meiguard.core.access import build_actor
from meiguard.core.models import User

from .conftest import login

SERIOUS = {"serious", "critical"}
WIDTHS = (1366, 768, 390)


def _main_pages(username: str) -> list[tuple[str, str]]:
    """The main pages, with a decision, case and authorization the signed-in person may open (the demo world
    holds other institutions' records too)."""
    actor = build_actor(User.objects.get(username=username))
    decision = DecisionLog.objects.visible_to(actor).order_by("-pk").first()
    case = Case.objects.visible_to(actor).order_by("pk").first()
    auth = Authorization.objects.visible_to(actor).order_by("pk").first()
    pages = [
        ("dashboard", "/"),
        ("check", "/authz/check/"),
        ("decision-log", "/authz/decisions/"),
        ("archive", "/authz/authorizations/"),
        ("inbox", "/notifications/"),
        ("application-form", "/applications/new/"),
        ("matrix", "/authz/matrix/"),
    ]
    if decision is not None:
        pages.append(("decision-detail", f"/authz/decisions/{decision.pk}/"))
    if case is not None:
        pages.append(("clinical-case", f"/clinical/cases/{case.pk}/"))
    if auth is not None:
        pages.append(("authorization", f"/authz/authorizations/{auth.pk}/"))
    return pages


def _violations(axe: Axe, page: Page) -> list[str]:
    results = axe.run(page)
    found = []
    for v in results.response["violations"]:
        if v.get("impact") in SERIOUS:
            targets = [", ".join(n.get("target", [])) for n in v.get("nodes", [])][:3]
            found.append(f"{v['id']} ({v['impact']}): {v['help']} at {targets}")
    return found


@pytest.mark.django_db(transaction=True)
def test_main_pages_have_no_serious_accessibility_violations(page: Page, live_server, shot) -> None:
    call_command("seed_demo", "--quiet")
    from meiguard.demo.management.commands.seed_demo import PASSWORD

    login(page, "zhao", PASSWORD)  # the compliance officer reaches every main page
    axe = Axe()
    problems: list[str] = []
    checked = 0
    for lang in ("zh-hans", "en"):
        page.context.add_cookies(
            [{"name": settings.LANGUAGE_COOKIE_NAME, "value": lang, "url": live_server.url}]
        )
        for name, url in _main_pages("zhao"):
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                response = page.goto(url)
                assert response is not None and response.status == 200, (url, response and response.status)
                shot(page, f"{name}-{lang}-{width}")
                if width == WIDTHS[0] or name in ("check", "dashboard"):
                    problems += [f"{lang} {url} @{width}: {v}" for v in _violations(axe, page)]
                    checked += 1
        # the check result (a denial with its reasons and fixes)
        page.set_viewport_size({"width": 1366, "height": 900})
        page.goto("/authz/check/")
        institution = page.locator("select[name=institution]")
        if not institution.input_value():
            institution.select_option(index=1)
            page.wait_for_load_state("networkidle")
        for name in ("practitioner", "procedure"):
            field = page.locator(f"#check-dependent select[name={name}]")
            if field.count() and not field.input_value():
                field.select_option(index=1)
        page.locator("form button.primary").click()
        page.locator("#decision-result article").wait_for()
        problems += [f"{lang} check result: {v}" for v in _violations(axe, page)]
        checked += 1
    assert checked >= 20
    assert not problems, "\n".join(problems)
