"""Personas (STYLE.md §10): wang, li, zhang, zhao at 甲诊所; qian the association auditor; sun at 乙医院."""

from __future__ import annotations

import os

os.environ.setdefault("MEIGUARD_TESTING", "1")

import pytest

from meiguard.core.access import Actor, build_actor
from meiguard.core.choices import OrganizationKind, Role


@pytest.fixture(autouse=True)
def _settings_for_tests(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.AXES_ENABLED = False
    # Rate limits and the two-factor requirement have their own tests (core/tests/test_ratelimit.py,
    # test_mfa.py), which switch them back on; elsewhere they would only get in the way.
    settings.RATE_LIMITS_ENABLED = False
    settings.MFA_ENFORCED = False
    settings.FIELD_ENCRYPTION_KEY = "p4Xr5HqWf6Z2j8a1Yk3Nq0TtVb9sLmCxRz7EwUoIgDc="
    settings.LANGUAGE_CODE = "zh-hans"
    from meiguard.authz import snapshot

    snapshot.clear()  # in-process caches must not outlive the test database's rollback
    # Argon2 is deliberately slow; only test_auth checks the production hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class World:
    """Two institutions' organisations, an association overseeing 甲, and the six personas."""

    def __init__(self) -> None:
        from meiguard.core.models import Membership, Organization, User

        self.org_jia = Organization.objects.create(
            name="甲诊所", kind=OrganizationKind.INSTITUTION, province="湖南"
        )
        self.org_yi = Organization.objects.create(
            name="乙医院", kind=OrganizationKind.INSTITUTION, province="北京"
        )
        self.org_assoc = Organization.objects.create(
            name="长沙市医疗美容协会", kind=OrganizationKind.OVERSIGHT
        )
        self.org_assoc.oversees.add(self.org_jia)
        self.users = {}
        for username, org, role in [
            ("wang", self.org_jia, Role.INSTITUTION_ADMIN),
            ("li", self.org_jia, Role.DOCTOR),
            ("zhang", self.org_jia, Role.NURSE),
            ("zhao", self.org_jia, Role.COMPLIANCE_OFFICER),
            ("qian", self.org_assoc, Role.AUDITOR),
            ("sun", self.org_yi, Role.INSTITUTION_ADMIN),
        ]:
            user = User.objects.create_user(
                username=username, password="pw-" + username + "-123456", display_name=username
            )
            Membership.objects.create(user=user, organization=org, role=role)
            self.users[username] = user

    def actor(self, username: str) -> Actor:
        return build_actor(self.users[username])

    def client(self, username: str):
        from django.test import Client

        c = Client()
        c.force_login(self.users[username])
        return c


@pytest.fixture
def world(db) -> World:
    return World()


@pytest.fixture
def system_actor() -> Actor:
    return Actor.system()
