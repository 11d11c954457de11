"""ID numbers: encrypted at rest, blind index for lookup, masked in API, pages, admin and audit."""

from django.db import connection

from meiguard.audit.models import AuditEntry
from meiguard.registry import actions, crypto
from meiguard.registry.models import Practitioner

from .factories import id_number


def raw_row(pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number, id_number_index FROM registry_practitioner WHERE id = %s", [pk])
        return cursor.fetchone()


def test_the_database_column_does_not_contain_the_id_number(reg):
    stored, index = raw_row(reg.li.pk)
    plain = reg.li.id_number
    assert plain not in stored
    assert plain[-6:] not in stored
    assert crypto.decrypt(stored) == plain
    assert index == crypto.blind_index(plain)
    assert Practitioner.objects.get(pk=reg.li.pk).id_number == plain


def test_it_looks_up_by_blind_index(reg):
    assert Practitioner.objects.get(id_number_index=crypto.blind_index(reg.li.id_number)) == reg.li


def test_it_masks_the_id_number():
    assert crypto.mask_id_number("110105198503121234") == "1101**********1234"


def test_dev_key_is_derived_from_secret_key(settings):
    settings.FIELD_ENCRYPTION_KEY = ""
    settings.DEBUG = True
    token = crypto.encrypt("x")
    assert crypto.decrypt(token) == "x"


def test_api_and_pages_show_only_the_masked_id_number(reg, world):
    plain = reg.li.id_number
    masked = reg.li.masked_id_number
    c = world.client("wang")
    for url in [
        f"/api/v1/registry/practitioners/{reg.li.pk}",
        "/api/v1/registry/practitioners",
        f"/registry/practitioners/{reg.li.pk}/",
        "/registry/practitioners/",
    ]:
        body = c.get(url).content.decode()
        assert plain not in body, url
        assert masked in body, url


def test_audit_entries_mask_the_id_number(reg, world):
    new_id = id_number(808)
    actions.update_practitioner(world.actor("wang"), reg.li.pk, id_number=new_id)
    entry = AuditEntry.objects.get(action="registry.practitioner.updated", object_id=str(reg.li.pk))
    dumped = str(entry.changes)
    assert new_id not in dumped
    assert reg.li.id_number not in dumped
    assert entry.changes["id_number_masked"] == [reg.li.masked_id_number, crypto.mask_id_number(new_id)]
    assert entry.changes["id_number"][1].startswith("***")
    # The stored value changed and still decrypts.
    assert Practitioner.objects.get(pk=reg.li.pk).id_number == new_id


def test_admin_shows_the_masked_id_number(reg, world):
    wang = world.users["wang"]
    wang.is_staff = True
    wang.save()
    c = world.client("wang")
    for url in ["/admin/registry/practitioner/", f"/admin/registry/practitioner/{reg.li.pk}/change/"]:
        body = c.get(url).content.decode()
        assert reg.li.id_number not in body, url
        assert reg.li.masked_id_number in body, url
