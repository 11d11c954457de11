"""What several journeys do the same way: ask the Check page, read its verdict, change who is signed in, add
staff with a role. Everything goes through the pages (or, for set-up, the project's own models and actions)."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from meiguard.core.models import Membership, Organization, User

from .conftest import login

PROCEDURE = "derm-botulinum-toxin-injection"
AT = "2026-03-03T10:00"  # the clinic fixture's reference day: every licence and authorization is valid


def choose_institution(page: Page, pk: int) -> None:
    """Choose the check page's institution unless it is chosen already (a person who sees one institution
    finds it preselected). Playwright fires ``change`` even for the same value, which would reload the
    dependent fields (htmx) under the selections made next; a browser does not. Choosing another institution
    reloads the practitioner, procedure and lot selects; the next select_option waits for its option."""
    select = page.get_by_label("机构")
    if select.input_value() != str(pk):
        select.select_option(str(pk))


def run_check(
    page: Page,
    clinic,
    *,
    procedure: str = PROCEDURE,
    lot: bool = True,
    dose: str = "50",
    at: str = AT,
) -> None:
    """Ask the Check page: may 李医生 do ``procedure`` at 甲诊所 at ``at`` (by default: inject 50 U of
    botulinum toxin from lot B2026001 on the clinic's reference day)?"""
    page.goto("/authz/check/")
    expect(page.get_by_role("heading", name="授权核验", level=1)).to_be_visible()
    choose_institution(page, clinic.jia.pk)
    page.get_by_label("执业人员").select_option(str(clinic.li.pk))
    page.get_by_label("项目").select_option(procedure)
    if lot:
        page.get_by_label("批次 1", exact=True).select_option(str(clinic.lot.pk))
        page.get_by_label("批次 1 · 剂量").fill(dose)
    page.get_by_label("核验时点").fill(at)
    page.get_by_role("button", name="核验", exact=True).click()


def result(page: Page) -> Locator:
    """The verdict card the Check page swaps in."""
    return page.get_by_role("article", name=re.compile("核验结论"))


def shown_log_id(page: Page) -> int:
    """The decision-log id the verdict card names (核验记录 #n)."""
    text = result(page).get_by_text(re.compile(r"核验记录 #\d+")).inner_text()
    match = re.search(r"核验记录 #(\d+)", text)
    assert match, text
    return int(match.group(1))


def switch_user(page: Page, username: str, password: str | None = None) -> None:
    """Sign out with the header's 退出 button, then sign in as ``username`` through the login form."""
    if page.get_by_role("button", name="退出").count():
        with page.expect_navigation():
            page.get_by_role("button", name="退出").click()
    login(page, username, password)


def add_staff(world, username: str, role: str, organization: Organization | None = None) -> User:
    """A login with ``role`` at 甲诊所 (or ``organization``), password ``pw-<username>-123456`` like the
    root conftest's personas, registered in ``world.users``."""
    user = User.objects.create_user(
        username=username, password=f"pw-{username}-123456", display_name=username
    )
    Membership.objects.create(user=user, organization=organization or world.org_jia, role=role)
    world.users[username] = user
    return user
