"""The one permission helper (core/permissions.py) and its template tag."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.template import Context, Template
from django.test import RequestFactory

from meiguard.core import permissions
from meiguard.core.access import Actor


def test_unknown_names_fail_loudly():
    with pytest.raises(KeyError):
        permissions.can(Actor.system(), "no.such.permission")


def test_every_app_declares_its_permissions():
    assert {
        "workflow.apply",
        "registry.institution.create",
        "registry.practitioner.create",
        "registry.change",
        "authz.check",
        "authz.authorization.create",
        "reviews.create",
        "bulk.import",
        "rules.packs",
        "clinical.view",
        "core.admin_site",
    } <= set(permissions.names())


def test_anonymous_may_do_nothing(db):
    assert not permissions.can(Actor.anonymous(), "core.search")
    assert not permissions.can(None, "lifecycle.view")


def test_require_raises_with_the_reason(world):
    with pytest.raises(PermissionDenied, match="您没有可提交授权申请的机构"):
        permissions.require(world.actor("qian"), "workflow.apply")


def test_the_check_matches_the_action(world):
    # wang (institution admin, no institution registered yet for 甲's organisation) may register it; zhang may not.
    assert permissions.can(world.actor("wang"), "registry.institution.create")
    assert not permissions.can(world.actor("zhang"), "registry.institution.create")
    assert not permissions.can(world.actor("qian"), "registry.institution.create")


def test_the_template_tag_is_memoised_per_request(world, django_assert_num_queries):
    request = RequestFactory().get("/")
    request.actor = world.actor("wang")
    tpl = Template(
        '{% load perms %}{% can "registry.practitioner.create" as a %}{% can "registry.practitioner.create" as b %}{{ a }}{{ b }}'
    )
    with django_assert_num_queries(1):
        assert tpl.render(Context({"request": request})) == "FalseFalse"  # no institution registered yet


def test_registry_forms_refuse_at_get(world):
    from meiguard.registry.tests.factories import InstitutionFactory

    InstitutionFactory(organization=world.org_jia)
    r = world.client("qian").get("/registry/practitioners/new/")
    assert r.status_code == 403 and "只有机构管理员、授权专员或医务科可以登记执业人员" in r.content.decode()
    r = world.client("li").get("/registry/institutions/new/")
    assert r.status_code == 403 and "登记机构" in r.content.decode()
    assert world.client("wang").get("/registry/practitioners/new/").status_code == 200
    # ... and the lists only link to forms the reader may submit.
    assert (
        "/registry/practitioners/new/"
        not in world.client("li").get("/registry/practitioners/").content.decode()
    )
    assert (
        "/registry/practitioners/new/"
        in world.client("wang").get("/registry/practitioners/").content.decode()
    )
