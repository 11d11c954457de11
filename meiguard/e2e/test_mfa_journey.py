"""Two-factor sign-in in the browser (issue 11 §6): an institution admin is sent to enrolment, scans (reads)
the QR code's secret, confirms with a TOTP code, keeps the recovery codes; the next sign-in asks for a code."""

from __future__ import annotations

import re

from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from .conftest import login


def _code_for(username: str, steps_ahead: int = 0) -> str:
    """What the authenticator app shows; ``steps_ahead=1`` is the next 30-second code, which the device
    accepts (tolerance 1) — a code already used is refused (replay protection)."""
    device = TOTPDevice.objects.get(user__username=username)
    drift = device.drift + steps_ahead
    return str(totp(device.bin_key, device.step, device.t0, device.digits, drift)).zfill(device.digits)


def test_admin_enrols_and_signs_in_with_a_totp_code(page, world, settings, shot):
    settings.MFA_ENFORCED = True
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    login(page, "wang")
    # Before anything else: enrolment, with a QR code drawn on the server.
    expect(page).to_have_url(re.compile(r"/account/mfa/enrol/"))
    expect(page.get_by_role("heading", name="启用两步验证")).to_be_visible()
    qr = page.get_by_role("img", name="两步验证二维码")
    expect(qr).to_be_visible()
    assert (qr.get_attribute("src") or "").startswith("data:image/svg+xml;base64,")
    assert qr.evaluate("img => img.naturalWidth") > 0  # the data: URI rendered under the CSP
    shot(page, "enrol")
    page.goto("/registry/")  # cannot go around it
    expect(page).to_have_url(re.compile(r"/account/mfa/enrol/"))

    page.get_by_label("验证码").fill(_code_for("wang"))
    page.get_by_role("button", name="完成绑定").click()
    expect(page.get_by_role("heading", name="恢复码")).to_be_visible()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    shot(page, "recovery-codes")
    page.get_by_role("link", name="我已保存,继续").click()
    expect(page.get_by_role("button", name="退出")).to_be_visible()

    # Sign out and in again: password, then the code.
    page.get_by_role("button", name="退出").click()
    login(page, "wang")
    expect(page).to_have_url(re.compile(r"/login/otp/"))
    page.get_by_label("验证码").fill("000000" if _code_for("wang") != "000000" else "111111")
    page.get_by_role("button", name="验证").click()
    expect(page.get_by_role("alert")).to_contain_text("验证码不正确")
    # The next 30-second code: always newer than the one used to enrol (a used code is never accepted again).
    page.get_by_label("验证码").fill(_code_for("wang", steps_ahead=1))
    page.get_by_role("button", name="验证").click()
    expect(page.get_by_role("banner")).to_contain_text("wang")
    expect(page).not_to_have_url(re.compile(r"/login/"))
    shot(page, "signed-in")


def test_language_switch_works_without_inline_handlers(page, world):
    login(page, "li")
    page.select_option("#lang-select", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
