"""Issue 16 acceptance: every demo login crawls the staff pages it can reach, in Chinese and English.

For each demo login (seed_demo), in zh-hans and en, starting from the dashboard: every same-origin link found
on the pages is followed (GET), URLs grouped by pattern with ``PER_PATTERN`` rendered pages per pattern, the
rest requested once per pattern for their status. Rendered pages are checked at 1366 px; the main pages (the
dashboard and the menu's targets) also at 768 and 390 px. A page fails when its visible text (outside
``<code>`` chips) shows a raw reason code or a procedure code, Chinese in English mode that is not stored data
(names, notes, the titles of cited documents), or common English UI words in Chinese mode; when it answers
4xx/5xx; or when a link on it leads to a 403. ``CRAWL_SECONDS`` prints the run time.
"""

from __future__ import annotations

import os
import re
import time
from collections import deque

import pytest
from django.conf import settings
from django.core.management import call_command
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

from meiguard.core.models import User

from . import crawl
from .conftest import login

PER_PATTERN = int(os.environ.get("CRAWL_PER_PATTERN") or 1)
WIDTHS = (1366, 768, 390)
NAV_LINKS_JS = """
() => Array.from(document.querySelectorAll('nav[aria-label] a[href]')).map(a => a.getAttribute('href'))
"""


def _check_page(page: Page, url: str, lang: str, ctx: dict, findings: crawl.Findings, who: str) -> list[str]:
    try:
        response = page.goto(url)
    except PlaywrightError as exc:
        if "Download is starting" in str(exc):  # a file, not a page
            return []
        raise
    findings.rendered += 1
    where = f"{who}/{lang} {url} @{page.viewport_size['width'] if page.viewport_size else '?'}"
    status = response.status if response is not None else 0
    if status >= 400:
        findings.add(where, f"answers {status}")
        return []
    text = page.evaluate(crawl.VISIBLE_TEXT_JS)
    for problem in crawl.text_problems(
        text, lang=lang, data=ctx["data"], codes_re=ctx["codes"], allowed_latin=ctx["latin"]
    ):
        findings.add(where, problem)
    return [h.replace("&amp;", "&") for h in page.evaluate(crawl.LINKS_JS)]


@pytest.mark.django_db(transaction=True)
def test_every_demo_login_crawls_its_pages_in_both_languages(page: Page, live_server) -> None:
    started = time.monotonic()
    call_command("seed_demo", "--quiet")
    seeded = time.monotonic()
    codes = sorted(crawl.procedure_codes(), key=len, reverse=True)
    ctx = {
        "data": crawl.data_text() + "\n" + crawl.sources_text(),
        "latin": crawl.data_text(cjk_only=False),
        "codes": re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, codes)) + r")(?![\w-])"),
    }
    from meiguard.demo.management.commands.seed_demo import PASSWORD

    findings = crawl.Findings()
    users = list(User.objects.filter(is_active=True).order_by("pk").values_list("username", flat=True))
    assert len(users) >= 8, users
    context = page.context
    # Patterns rendered so far (per language, shared by the logins: each login still requests every pattern
    # it links to once, for its status); narrow widths of a main page once per language.
    rendered: dict[str, dict[str, int]] = {"zh-hans": {}, "en": {}}
    narrow_done: set[tuple[str, str, int]] = set()
    for username in users:
        context.clear_cookies()
        page.set_viewport_size({"width": 1366, "height": 900})
        login(page, username, PASSWORD)
        for lang in ("zh-hans", "en"):
            context.add_cookies(
                [{"name": settings.LANGUAGE_COOKIE_NAME, "value": lang, "url": live_server.url}]
            )
            who = username
            page.set_viewport_size({"width": 1366, "height": 900})
            page.goto("/")
            main_pages = ["/", *[h for h in page.evaluate(NAV_LINKS_JS) if h and crawl.crawlable(h)]]
            status_checked: set[str] = set()
            seen: set[str] = set()
            queue = deque(main_pages)
            counts = rendered[lang]
            while queue:
                url = queue.popleft()
                if url in seen or not crawl.crawlable(url):
                    continue
                seen.add(url)
                pat = crawl.pattern(url)
                main = url in main_pages  # each login's own menu pages are always rendered
                if not main and counts.get(pat, 0) >= PER_PATTERN:
                    if pat not in status_checked:  # one request per further pattern: no 403, no error
                        status_checked.add(pat)
                        status = context.request.get(url, max_redirects=0).status
                        findings.status_checked += 1
                        if status >= 400:
                            findings.add(f"{who}/{lang} {url}", f"link answers {status}")
                    continue
                status_checked.add(pat)
                counts[pat] = counts.get(pat, 0) + 1
                links = _check_page(page, url, lang, ctx, findings, who)
                queue.extend(h for h in links if h not in seen)
            # the main pages at tablet and phone widths (each distinct page once per language and width)
            for width in WIDTHS[1:]:
                page.set_viewport_size({"width": width, "height": 900})
                for url in main_pages:
                    if (lang, url, width) not in narrow_done:
                        narrow_done.add((lang, url, width))
                        _check_page(page, url, lang, ctx, findings, who)
        print(f"  {username}: {time.monotonic() - started:.0f}s rendered={findings.rendered}", flush=True)
    elapsed = time.monotonic() - started
    print(
        f"\nCRAWL_SECONDS={elapsed:.0f} (seed {seeded - started:.0f}) rendered={findings.rendered} "
        f"status-only={findings.status_checked} logins={len(users)}"
    )
    assert not findings.problems, "\n".join(sorted(set(findings.problems)))
