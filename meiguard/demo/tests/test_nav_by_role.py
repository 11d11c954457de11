"""Role-shaped navigation over the demo world (issue 16 item 5): each demo login sees exactly its menu, and no
link in the menu or on the pages it leads to (and theirs) answers 403 for that login."""

from __future__ import annotations

import re

from django.core.management import call_command
from django.test import Client

from meiguard.core.models import User

NAV = re.compile(r'<nav[^>]*aria-label="主导航"[^>]*>(.*?)</nav>', re.S)
HREF = re.compile(r'href="(/[^"#]*)"')
SKIP = ("/static/", "/i18n/", "/admin/", "/api/")

EVERYONE = ["/", "/registry/", "/lifecycle/"]
MANAGERS = [
    *EVERYONE,
    "/clinical/",
    "/aftercare/",
    "/complaints/",
    "/aftercare/incidents/",  # 医务科, 授权专员 and admins keep the incident register
    "/rules/",
    "/rules/policy/",
    "/applications/",
    "/equipment/",
    "/reviews/",
    "/compliance/",
    "/bulk/",
    "/publishing/prices/",
    "/authz/check/",
]
KEEPERS = [*MANAGERS, "/inventory/"]  # admins and 授权专员 also keep stock (医务科 does not)
EXPECTED = {
    "admin": [
        *EVERYONE,
        "/rules/",
        "/rules/policy/",
        "/applications/",
        "/equipment/",
        "/reviews/",
        "/compliance/",
        "/bulk/",
        "/admin/",
        "/authz/check/",
    ],
    "wang": KEEPERS,
    "zhao": KEEPERS,
    "zhou": MANAGERS,
    "sun": KEEPERS,
    # buyers import nothing; they receive and keep stock and keep the device files
    "wu": [*EVERYONE, "/inventory/", "/rules/policy/", "/applications/", "/equipment/", "/authz/check/"],
    "li": [
        *EVERYONE,
        "/clinical/",
        "/aftercare/",
        "/complaints/",
        "/rules/policy/",
        "/applications/",
        "/authz/check/",
    ],
    "zhang": [
        *EVERYONE,
        "/clinical/",
        "/aftercare/",
        "/complaints/",
        "/rules/policy/",
        "/applications/",
        "/authz/check/",
    ],
    "qian": [
        *EVERYONE,
        "/complaints/",
        "/rules/",
        "/rules/policy/",
        "/applications/",
        "/equipment/",
        "/reviews/",
        "/compliance/",
        "/authz/check/",
    ],
    "chen": EVERYONE,
}


def _nav(html: str) -> list[str]:
    m = NAV.search(html)
    assert m, "no main navigation"
    return HREF.findall(m.group(1))


def test_each_role_sees_its_menu_and_no_link_leads_to_a_403(db):
    call_command("seed_demo", "--quiet")
    problems: list[str] = []
    for username, expected in EXPECTED.items():
        c = Client()
        c.force_login(User.objects.get(username=username))
        home = c.get("/").content.decode()
        nav = _nav(home)
        if sorted(nav) != sorted(expected):
            problems.append(f"{username}: nav {sorted(nav)} != {sorted(expected)}")
        # Two levels: the dashboard's and the menu's links, then every link on those pages.
        queue = [h.replace("&amp;", "&") for h in HREF.findall(home)]
        seen: set[str] = set()
        depth = {h: 1 for h in queue}
        while queue:
            url = queue.pop(0)
            if url in seen or url.startswith(SKIP):
                continue
            seen.add(url)
            r = c.get(url)
            if r.status_code == 403:
                problems.append(f"{username}: {url} is 403")
            elif r.status_code not in (200, 302):
                problems.append(f"{username}: {url} is {r.status_code}")
            if r.status_code == 200 and depth[url] < 2 and "text/html" in r.get("Content-Type", ""):
                for h in HREF.findall(r.content.decode()):
                    h = h.replace("&amp;", "&")
                    if h not in depth:
                        depth[h] = depth[url] + 1
                        queue.append(h)
        # Doctors and suppliers never see the compliance back office.
        if username in ("li", "chen"):
            for hidden in ("/rules/", "/bulk/", "/reviews/"):
                if hidden in nav:
                    problems.append(f"{username}: {hidden} in nav")
    assert problems == []


def test_the_header_counts_cost_two_queries(db, django_assert_num_queries):
    call_command("seed_demo", "--quiet")
    c = Client()
    c.force_login(User.objects.get(username="zhao"))
    html = c.get("/workspace/search/").content.decode()
    # The badges: pending approvals (a link to the inbox) and unread notices.
    assert 'href="/applications/inbox/"' in html and "待审批" in html
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        c.get("/workspace/search/")
    badge_queries = [
        q["sql"]
        for q in ctx.captured_queries
        if "workflow_approvalstep" in q["sql"] or "notify_notification" in q["sql"]
    ]
    assert len(badge_queries) == 2
