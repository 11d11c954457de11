"""The header's language switch also keeps a signed-in person's choice on their account (audited), and the
notices e-mailed to them are written in it; an anonymous switch only sets the cookie."""

from __future__ import annotations

import pytest
from django.test import Client

from meiguard.audit.models import AuditEntry
from meiguard.core.models import User
from meiguard.notify.tasks import recipient_language

pytestmark = pytest.mark.django_db


def test_a_signed_in_switch_is_kept_and_audited(world):
    client = world.client("li")
    li = world.users["li"]
    assert recipient_language(li) == "zh-hans"  # nothing chosen yet: the site language

    resp = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert resp.status_code == 302 and resp["Location"] == "/"
    li = User.objects.get(pk=li.pk)
    assert li.language == "en" and recipient_language(li) == "en"
    entry = AuditEntry.objects.filter(action="core.user.language_set").get()
    assert entry.changes == {"language": ["", "en"]}, entry.changes

    client.post("/i18n/setlang/", {"language": "en", "next": "/"})  # the same choice again: nothing to record
    assert AuditEntry.objects.filter(action="core.user.language_set").count() == 1


def test_an_unsupported_language_changes_nothing(world):
    client = world.client("li")
    client.post("/i18n/setlang/", {"language": "fr", "next": "/"})
    assert User.objects.get(pk=world.users["li"].pk).language == ""
    assert not AuditEntry.objects.filter(action="core.user.language_set").exists()


def test_an_anonymous_switch_sets_only_the_cookie():
    resp = Client().post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert resp.status_code == 302 and resp.cookies["django_language"].value == "en"
    assert not AuditEntry.objects.exists()
