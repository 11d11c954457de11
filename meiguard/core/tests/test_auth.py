import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client
from django.urls import reverse

from meiguard.core.models import User


def test_production_hasher_is_argon2(settings):
    settings.PASSWORD_HASHERS = settings.PRODUCTION_PASSWORD_HASHERS
    assert make_password("correct horse battery").startswith("argon2$")
    assert settings.PRODUCTION_PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


def test_login_page_renders_in_chinese(db):
    response = Client().get(reverse("core:login"))
    assert response.status_code == 200
    assert "登录" in response.content.decode()


def test_login_works_and_lands_on_workspace(world):
    c = Client()
    response = c.post(reverse("core:login"), {"username": "wang", "password": "pw-wang-123456"})
    assert response.status_code == 302
    home = c.get(reverse("core:home"))
    assert "甲诊所" in home.content.decode()


def test_it_locks_out_after_repeated_failures(world, settings):
    settings.AXES_ENABLED = True
    c = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        c.post(reverse("core:login"), {"username": "wang", "password": "wrong-password"})
    # Even the right password is refused while locked out.
    response = c.post(reverse("core:login"), {"username": "wang", "password": "pw-wang-123456"})
    assert response.status_code == 429
    assert "锁定" in response.content.decode()
    assert "_auth_user_id" not in c.session


def test_forms_require_csrf(world):
    c = Client(enforce_csrf_checks=True)
    response = c.post(reverse("core:login"), {"username": "wang", "password": "pw-wang-123456"})
    assert response.status_code == 403


def test_idle_session_expires(world, settings):
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    # Idle 30 minutes the session locks (test_idle_lock.py); locked 2 more hours, it ends.
    assert settings.SESSION_IDLE_SECONDS == 30 * 60
    assert settings.SESSION_COOKIE_AGE == 30 * 60 + 120 * 60
    c = world.client("wang")
    session = c.session
    session.set_expiry(-1)  # idle past the limit
    session.save()
    response = c.get(reverse("core:home"))
    assert response.status_code == 302
    assert reverse("core:login") in response["Location"]


def test_anonymous_is_sent_to_login(db):
    response = Client().get(reverse("core:home"))
    assert response.status_code == 302


@pytest.mark.parametrize("lang,needle", [("zh-hans", "工作台"), ("en", "Workspace")])
def test_workspace_speaks_both_languages(world, lang, needle):
    c = world.client("wang")
    response = c.get(reverse("core:home"), HTTP_ACCEPT_LANGUAGE=lang)
    assert needle in response.content.decode()


def test_users_are_created_with_usable_passwords(world):
    assert User.objects.get(username="li").check_password("pw-li-123456")
