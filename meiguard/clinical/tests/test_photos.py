"""Before/after photos: JPEG/PNG only, size-bounded, stored privately (no URL), every view audited."""

from __future__ import annotations

import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from meiguard.audit.models import AuditEntry
from meiguard.clinical import actions
from meiguard.clinical.models import ClientPhoto

from .conftest import TOXIN

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + os.urandom(200) + b"\xff\xd9"
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(64) + b"\x00\x00\x00\x00IEND\xaeB`\x82"
BASE = "/api/v1/clinical"


def _upload(client, client_id, data, name="a.jpg", **fields):
    return client.post(
        f"{BASE}/clients/{client_id}/photos",
        {"file": SimpleUploadedFile(name, data, content_type="image/jpeg"), "kind": "before", **fields},
    )


def test_a_photo_is_stored_privately_and_every_view_is_audited(clin, settings):
    zhao = clin.world.client("zhao")
    case = clin.case(TOXIN)
    r = _upload(zhao, clin.client.pk, JPEG, case_id=case.pk)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["kind"] == "before" and body["case_id"] == case.pk
    assert body["content_path"] == f"{BASE}/photos/{body['id']}/content"
    photo = ClientPhoto.objects.get(pk=body["id"])
    # Outside MEDIA_ROOT, with no URL.
    path = actions.photo_storage().path(photo.file.name)
    assert not path.startswith(str(settings.MEDIA_ROOT))
    with open(path, "rb") as fh:
        raw = fh.read()
    assert raw != JPEG and b"\xff\xd8\xff" not in raw  # encrypted at rest
    assert actions.photo_storage().open(photo.file.name).read() == JPEG
    with pytest.raises(ValueError):
        actions.photo_storage().url(photo.file.name)
    assert AuditEntry.objects.filter(action="clinical.clientphoto.uploaded").count() == 1

    li = clin.world.client("li")
    for viewer in (zhao, li, li):
        got = viewer.get(body["content_path"])
        assert got.status_code == 200 and got.content == JPEG
        assert got["Content-Type"] == "image/jpeg" and "no-store" in got["Cache-Control"]
    views = AuditEntry.objects.filter(action="clinical.clientphoto.viewed").order_by("pk")
    assert views.count() == 3
    listed = li.get(f"{BASE}/clients/{clin.client.pk}/photos").json()
    assert [p["id"] for p in listed] == [photo.pk]
    assert (
        AuditEntry.objects.filter(action="clinical.clientphoto.viewed").count() == 3
    )  # listing shows no bytes


def test_png_is_accepted_and_other_files_are_refused(clin):
    zhao = clin.world.client("zhao")
    assert _upload(zhao, clin.client.pk, PNG_BYTES, name="b.png").status_code == 200
    for data, name in (
        (b"GIF89a" + b"\x00" * 50, "x.gif"),
        (b"%PDF-1.7 ...", "x.jpg"),
        (JPEG[:-2], "cut.jpg"),
    ):
        r = _upload(zhao, clin.client.pk, data, name=name)
        assert r.status_code == 422 and r.json()["field"] == "file", name
    r = zhao.post(f"{BASE}/clients/{clin.client.pk}/photos", {"kind": "before"})
    assert r.status_code == 422
    r = _upload(zhao, clin.client.pk, JPEG, kind="selfie")
    assert r.status_code == 422
    assert ClientPhoto.objects.count() == 1


def test_a_photo_over_the_size_limit_is_refused(clin, monkeypatch):
    monkeypatch.setattr(actions, "MAX_PHOTO_BYTES", 100)
    r = _upload(clin.world.client("zhao"), clin.client.pk, JPEG)
    assert r.status_code == 422 and r.json()["field"] == "file"
    assert "MB" in r.json()["errors"][0]["message"] or "MB" in r.json()["message"]
    assert not ClientPhoto.objects.exists()


def test_photos_need_the_clients_photo_consent(clin):
    client = actions.create_client(
        clin.actor("zhao"),
        institution_id=clin.clinic.jia.pk,
        data={
            "name": "赵女士",
            "date_of_birth": __import__("datetime").date(1991, 1, 1),
            "phone": "13900009999",
            "document_type": "passport",
            "id_number": "E12345678",
        },
    )
    actions.grant_privacy_consent(
        clin.actor("zhao"),
        client.pk,
        purpose="诊疗",
        scope=["health"],
        retention_years=30,
        notice_version="1",
    )
    r = _upload(clin.world.client("zhao"), client.pk, JPEG)
    assert r.status_code == 409 and r.json()["code"] == "PHOTO_CONSENT_MISSING"
    assert not ClientPhoto.objects.exists()


def test_outsiders_get_404_and_leave_no_view(clin):
    zhao, sun = clin.world.client("zhao"), clin.world.client("sun")
    pk = _upload(zhao, clin.client.pk, JPEG).json()["id"]
    assert sun.get(f"{BASE}/photos/{pk}/content").status_code == 404
    assert sun.get(f"{BASE}/clients/{clin.client.pk}/photos").status_code == 404
    assert _upload(sun, clin.client.pk, JPEG).status_code == 404
    other_case = _upload(zhao, clin.client.pk, JPEG, case_id=10**9)
    assert other_case.status_code == 404 and other_case.json()["field"] == "case_id"
    assert not AuditEntry.objects.filter(action="clinical.clientphoto.viewed").exists()
