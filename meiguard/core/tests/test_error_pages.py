"""Styled error pages (core/errorviews.py): in the base layout with navigation, the real reason, a way back."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import path

from meiguard.urls import urlpatterns as project_urls


def _boom(request):
    raise RuntimeError("secret-detail-do-not-show")


def _denied(request):
    raise PermissionDenied("只有演练角色可以打开")


urlpatterns = [path("__boom/", _boom), path("__denied/", _denied), *project_urls]
handler403 = "meiguard.core.errorviews.permission_denied"
handler404 = "meiguard.core.errorviews.page_not_found"
handler500 = "meiguard.core.errorviews.server_error"


@pytest.fixture
def urls(settings):
    settings.ROOT_URLCONF = __name__


def test_a_refused_form_shows_the_reason_with_navigation(world):
    # qian (auditor) may not file applications: the form refuses at GET, with the reason, in the layout.
    r = world.client("qian").get("/applications/new/", HTTP_REFERER="http://testserver/applications/")
    html = r.content.decode()
    assert r.status_code == 403
    assert "您没有可提交授权申请的机构" in html
    assert 'aria-label="主导航"' in html and "工作台" in html
    assert 'href="http://testserver/applications/"' in html  # the way back
    assert "403 Forbidden" not in html


def test_the_403_speaks_english(world):
    r = world.client("qian").get("/applications/new/", HTTP_ACCEPT_LANGUAGE="en")
    html = r.content.decode()
    assert r.status_code == 403
    assert "Access denied" in html and "You have no institution where you may file applications" in html


def test_permission_denied_message_is_shown(world, urls):
    r = world.client("wang").get("/__denied/")
    assert r.status_code == 403 and "只有演练角色可以打开" in r.content.decode()


def test_404_is_styled(world):
    r = world.client("wang").get("/registry/institutions/999999/")
    html = r.content.decode()
    assert r.status_code == 404
    assert "页面不存在" in html and 'aria-label="主导航"' in html


def test_404_for_anonymous_has_no_navigation_but_a_way_home(db):
    r = Client().get("/no-such-page/")
    assert r.status_code == 404 and 'href="/"' in r.content.decode()


def test_500_leaks_nothing(world, urls):
    c = world.client("wang")
    c.raise_request_exception = False
    r = c.get("/__boom/")
    html = r.content.decode()
    assert r.status_code == 500
    assert "系统出错" in html and "secret-detail-do-not-show" not in html and "Traceback" not in html
    assert r["X-Request-ID"] in html  # the number to quote to support


def test_500_renders_even_when_the_navigation_cannot(world, urls, monkeypatch):
    from meiguard.core import permissions

    def broken(*a, **k):
        raise RuntimeError("database gone")

    monkeypatch.setattr(permissions, "can_for_request", broken)
    monkeypatch.setattr("meiguard.core.templatetags.perms.can_for_request", broken)
    c = world.client("wang")
    c.raise_request_exception = False
    r = c.get("/__boom/")
    assert r.status_code == 500 and "系统出错" in r.content.decode()


def test_csrf_failure_is_styled(world):
    c = Client(enforce_csrf_checks=True)
    c.force_login(world.users["wang"])
    r = c.post("/logout/")
    html = r.content.decode()
    assert r.status_code == 403
    assert "页面已过期" in html and "CSRF verification failed" not in html


def test_api_errors_keep_their_envelope(world):
    r = world.client("wang").get("/api/v1/no-such-endpoint")
    assert r.status_code == 404 and r["Content-Type"].startswith("application/json")
