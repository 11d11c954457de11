"""The idle lock (issue 16 §6): an idle session locks instead of ending; the same person unlocks it with what
sign-in asks (password, and the authenticator code if they have one); failures are counted by axes and audited."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from meiguard.audit.models import AuditEntry
from meiguard.core import idle

JSON = {"HTTP_ACCEPT": "application/json"}


def _idle_for(client: Client, seconds: float) -> None:
    session = client.session
    session[idle.SEEN_KEY] = time.time() - seconds
    session.save()


def _locked_client(world, username: str = "wang") -> Client:
    c = world.client(username)
    assert c.get(reverse("core:home")).status_code == 200
    _idle_for(c, 31 * 60)
    return c


def _unlock(c: Client, password: str, **extra: object):
    return c.post(reverse("core:unlock"), {"password": password, **extra}, **JSON)


def test_the_page_knows_the_idle_limit(world):
    c = world.client("li")
    html = c.get(reverse("core:home")).content.decode()
    assert 'data-idle-seconds="1800"' in html
    assert 'id="idle-lock-template"' in html


def test_an_active_session_is_renewed_not_locked(world):
    c = world.client("wang")
    _idle_for(c, 29 * 60)
    response = c.post(reverse("core:keepalive"), **JSON)
    assert response.status_code == 200
    assert time.time() - c.session[idle.SEEN_KEY] < 5
    assert not c.session.get(idle.LOCKED_KEY)


def test_an_idle_session_locks_and_keeps_the_user(world):
    c = _locked_client(world)
    response = c.get("/registry/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("core:unlock"))
    assert c.session["_auth_user_id"] == str(world.users["wang"].pk)  # not signed out: the page is kept
    keep = c.post(reverse("core:keepalive"), **JSON)
    assert keep.status_code == 401
    assert keep.json()["code"] == "SESSION_LOCKED"
    api = c.get("/api/v1/workspace/dashboard")
    assert api.status_code == 401  # the API sees the locked session as signed out
    page = c.get(reverse("core:unlock"))
    assert page.status_code == 200 and "页面已锁定" in page.content.decode()
    assert (
        AuditEntry.objects.filter(action="core.session.locked", actor_id=world.users["wang"].pk).count() == 1
    )


def test_wrong_password_is_a_4xx_envelope_and_stays_locked(world):
    c = _locked_client(world)
    response = _unlock(c, "not-the-password")
    assert response.status_code == 400
    body = response.json()
    assert (
        body["code"] == "WRONG_PASSWORD" and body["field"] == "password" and body["message"] == "密码不正确"
    )
    assert c.session.get(idle.LOCKED_KEY) is True
    assert c.get(reverse("core:home")).status_code == 302
    failed = AuditEntry.objects.get(action="core.session.unlock_failed")
    assert failed.reason == "WRONG_PASSWORD" and failed.actor_id == world.users["wang"].pk


def test_english_envelope(world):
    c = _locked_client(world)
    response = c.post(reverse("core:unlock"), {"password": "x"}, HTTP_ACCEPT_LANGUAGE="en", **JSON)
    assert response.json()["message"] == "Wrong password"


def test_right_password_resumes_the_same_session(world):
    c = _locked_client(world)
    csrf_before = c.cookies.get("csrftoken")
    key_before = c.session.session_key
    response = _unlock(c, "pw-wang-123456", user=world.users["wang"].pk)
    assert response.status_code == 200 and response.json()["unlocked"] is True
    assert c.session.session_key == key_before
    assert c.cookies.get("csrftoken") == csrf_before  # the form under the lock can still be posted
    assert not c.session.get(idle.LOCKED_KEY)
    assert time.time() - c.session[idle.SEEN_KEY] < 5
    assert c.get(reverse("core:home")).status_code == 200
    assert AuditEntry.objects.filter(action="core.session.unlocked").count() == 1


def test_the_page_form_unlocks_and_returns(world):
    c = _locked_client(world)
    response = c.post(reverse("core:unlock"), {"password": "pw-wang-123456", "next": "/registry/"})
    assert response.status_code == 302 and response["Location"] == "/registry/"
    wrong = c.post(reverse("core:unlock"), {"password": "nope"})
    assert wrong.status_code == 400 and "密码不正确" in wrong.content.decode()  # a password is always checked


def test_another_users_password_or_page_is_refused(world):
    c = _locked_client(world, "wang")
    response = _unlock(c, "pw-li-123456")  # li's own password cannot open wang's session
    assert response.status_code == 400 and response.json()["code"] == "WRONG_PASSWORD"
    # A page shown to li cannot be unlocked into wang's session, even with wang's password.
    other = _unlock(c, "pw-wang-123456", user=world.users["li"].pk)
    assert other.status_code == 409 and other.json()["code"] == "OTHER_USER"
    assert c.session.get(idle.LOCKED_KEY) is True
    assert AuditEntry.objects.filter(action="core.session.unlock_failed").count() == 2


def test_lockout_after_failures_ends_the_session(world, settings):
    settings.AXES_ENABLED = True
    from axes.utils import reset

    reset()
    c = _locked_client(world)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _unlock(c, "wrong-password").json()["code"] == "WRONG_PASSWORD"
    response = _unlock(c, "wrong-password")
    assert response.status_code == 429 and response.json()["code"] == "LOCKED_OUT"
    assert "_auth_user_id" not in c.session  # signed out
    again = _unlock(c, "pw-wang-123456")
    assert again.status_code == 401 and again.json()["code"] == "UNAUTHENTICATED"
    # Locked out at the login form too, even with the right password (the same axes counter).
    login = Client().post(reverse("core:login"), {"username": "wang", "password": "pw-wang-123456"})
    assert login.status_code == 429
    assert AuditEntry.objects.filter(action="core.session.unlock_failed", reason="LOCKED_OUT").count() == 1


def test_a_right_unlock_resets_the_failure_count(world, settings):
    settings.AXES_ENABLED = True
    from axes.models import AccessAttempt
    from axes.utils import reset

    reset()
    c = _locked_client(world)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _unlock(c, "wrong-password")
    assert AccessAttempt.objects.filter(username="wang").exists()
    assert _unlock(c, "pw-wang-123456").status_code == 200
    assert not AccessAttempt.objects.filter(username="wang").exists()


def test_authenticator_users_give_a_code_too(world, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user = world.users["wang"]
    c = _locked_client(world)
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    response = _unlock(c, "pw-wang-123456")
    assert response.status_code == 400 and response.json()["code"] == "CODE_REQUIRED"
    assert (
        _unlock(c, "pw-wang-123456", code="000000" if _code(device) != "000000" else "111111").json()["code"]
        == "WRONG_CODE"
    )
    assert _unlock(c, "pw-wang-123456", code=_code(device)).status_code == 200
    assert c.get(reverse("core:home")).status_code == 200


def _code(device):
    return str(totp(device.bin_key, device.step, device.t0, device.digits, device.drift)).zfill(device.digits)


def test_a_shared_tablet_locks_sooner(world):
    c = world.client("zhang")
    response = c.post(reverse("core:shared_device"), {"shared": "1"})
    assert response.status_code == 302
    assert c.cookies[idle.SHARED_COOKIE].value == "1"
    assert 'data-idle-seconds="300"' in c.get(reverse("core:home")).content.decode()
    _idle_for(c, 6 * 60)
    assert c.get(reverse("core:home")).status_code == 302  # 6 minutes idle: locked on this device
    entry = AuditEntry.objects.get(action="core.session.locked")
    assert entry.changes["shared_device"] is True and entry.changes["idle_seconds"] == 300


def test_a_personal_device_keeps_the_long_limit(world):
    c = world.client("zhang")
    _idle_for(c, 6 * 60)
    assert c.get(reverse("core:home")).status_code == 200


def test_unmarking_the_device(world):
    c = world.client("zhang")
    c.post(reverse("core:shared_device"), {"shared": "1"})
    c.post(reverse("core:shared_device"), {"shared": "0"})
    assert c.cookies[idle.SHARED_COOKIE].value == ""


def test_the_page_can_lock_itself(world):
    c = world.client("li")
    assert c.post(reverse("core:lock"), **JSON).status_code == 200
    assert c.get(reverse("core:home")).status_code == 302
    assert AuditEntry.objects.get(action="core.session.locked").changes["why"] == "page"


@pytest.mark.parametrize("name", ["core:keepalive", "core:lock"])
def test_signed_out_calls_get_the_envelope(db, name):
    response = Client().post(reverse(name), **JSON)
    assert response.status_code == 401 and response.json()["code"] == "UNAUTHENTICATED"
