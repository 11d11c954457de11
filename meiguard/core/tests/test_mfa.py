"""Two-factor sign-in (issue 11 §6): required roles enrol first, enrolled users give a TOTP code."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from meiguard.audit.models import AuditEntry


@pytest.fixture
def enforced(settings):
    settings.MFA_ENFORCED = True
    # django-otp delays the next try after a wrong code (1 s, doubling); these tests try at once.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


def _login(username):
    c = Client()
    response = c.post(reverse("core:login"), {"username": username, "password": f"pw-{username}-123456"})
    assert response.status_code == 302
    return c


def _code(device):
    return str(totp(device.bin_key, device.step, device.t0, device.digits, device.drift)).zfill(device.digits)


def _enrolled(user):
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    return device


@pytest.mark.parametrize("username", ["wang", "zhao"])  # institution admin, 授权专员
def test_required_roles_are_sent_to_enrolment_before_anything_else(world, enforced, username):
    c = _login(username)
    for path in ("/", "/registry/", "/account/security/"):
        response = c.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("core:mfa_enrol"))
    # The API treats the half-signed-in session as signed out.
    assert c.get("/api/v1/me").status_code == 401


def test_approvers_and_platform_admins_are_required_too(world, settings):
    from meiguard.core.mfa import mfa_required

    settings.MFA_ENFORCED = True
    assert "medical_director" in settings.MFA_REQUIRED_ROLES
    assert "platform_admin" in settings.MFA_REQUIRED_ROLES
    assert mfa_required(world.users["wang"]) and mfa_required(world.users["zhao"])
    assert not mfa_required(world.users["li"])
    world.users["li"].is_superuser = True
    assert mfa_required(world.users["li"])


def test_other_roles_may_skip_enrolment(world, enforced):
    c = _login("li")  # doctor
    assert c.get("/").status_code == 200
    assert c.get("/api/v1/me").status_code == 200


def test_enrolment_shows_a_qr_code_and_confirms_with_a_code(world, enforced):
    c = _login("wang")
    page = c.get(reverse("core:mfa_enrol"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'src="data:image/svg+xml;base64,' in html
    device = TOTPDevice.objects.get(user=world.users["wang"], confirmed=False)
    wrong = c.post(reverse("core:mfa_enrol"), {"code": "000000" if _code(device) != "000000" else "111111"})
    assert "验证码不正确" in wrong.content.decode()
    done = c.post(reverse("core:mfa_enrol"), {"code": _code(device)})
    assert done.status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    assert StaticToken.objects.filter(device__user=world.users["wang"]).count() == 10
    for token in StaticToken.objects.filter(device__user=world.users["wang"]):
        assert token.token in done.content.decode()
    assert c.get("/").status_code == 200
    assert AuditEntry.objects.filter(action="core.user.mfa_enrolled").count() == 1


def test_enrolled_user_gives_a_code_after_the_password(world, enforced):
    device = _enrolled(world.users["li"])  # optional role, but enrolled: the step applies
    c = _login("li")
    response = c.get("/")
    assert response["Location"].startswith(reverse("core:otp_verify"))
    assert c.get("/api/v1/me").status_code == 401
    bad = c.post(reverse("core:otp_verify"), {"code": "12"})
    assert bad.status_code == 200
    ok = c.post(reverse("core:otp_verify"), {"code": _code(device), "next": "/registry/"})
    assert ok.status_code == 302
    assert ok["Location"] == "/registry/"
    assert c.get("/").status_code == 200
    assert c.get("/api/v1/me").status_code == 200


def test_a_recovery_code_works_once(world, enforced):
    from meiguard.core import mfa

    _enrolled(world.users["wang"])
    codes = mfa.new_recovery_codes(world.actor("wang"), world.users["wang"])
    c = _login("wang")
    assert c.post(reverse("core:otp_verify"), {"code": codes[0]}).status_code == 302
    assert c.get("/").status_code == 200
    again = _login("wang")
    assert again.post(reverse("core:otp_verify"), {"code": codes[0]}).status_code == 200  # spent


def test_next_cannot_leave_the_site(world, enforced):
    device = _enrolled(world.users["li"])
    c = _login("li")
    response = c.post(reverse("core:otp_verify"), {"code": _code(device), "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_code_guessing_is_rate_limited(world, enforced, settings):
    from django.core.cache import cache

    cache.clear()
    settings.RATE_LIMITS_ENABLED = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "otp": (3, 300)}
    _enrolled(world.users["li"])
    c = _login("li")
    for _ in range(3):
        c.post(reverse("core:otp_verify"), {"code": "000001"})
    response = c.post(reverse("core:otp_verify"), {"code": "000001"})
    assert response.status_code == 429
    assert "Retry-After" in response
    cache.clear()
