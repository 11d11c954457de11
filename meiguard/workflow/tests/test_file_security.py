"""Evidence files: encrypted at rest, reachable only through the permission-checked view (issue 11 §7)."""

from __future__ import annotations

from pathlib import Path

from django.core.management import call_command

from meiguard.registry.storage import MAGIC
from meiguard.workflow.models import Evidence

from .conftest import pdf


def _upload(wf):
    app = wf.draft("li")
    li = wf.client("li")
    resp = li.post(f"/applications/{app.pk}/evidence/", {"kind": "certificate", "file": pdf("执业证书.pdf")})
    assert resp.status_code == 302
    return app, Evidence.objects.get()


def test_evidence_is_stored_encrypted_and_served_decrypted(wf, settings):
    app, item = _upload(wf)
    raw = (Path(settings.MEDIA_ROOT) / item.file.name).read_bytes()
    assert raw.startswith(MAGIC)
    assert b"%PDF" not in raw
    got = wf.client("li").get(f"/applications/{app.pk}/evidence/{item.pk}/file/")
    assert got.status_code == 200
    assert b"".join(got.streaming_content).startswith(b"%PDF-1.4 ")
    assert "no-store" in got["Cache-Control"]


def test_evidence_is_not_reachable_without_permission(wf, settings):
    from django.test import Client

    app, item = _upload(wf)
    assert wf.client("sun").get(f"/applications/{app.pk}/evidence/{item.pk}/file/").status_code == 404
    anonymous = Client().get(f"/applications/{app.pk}/evidence/{item.pk}/file/")
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    # No public media URL exists, even with DEBUG.
    assert Client().get(f"/{settings.MEDIA_URL}{item.file.name}").status_code == 404


def test_encrypt_files_command_encrypts_old_plain_files_once(wf, settings):
    _, item = _upload(wf)
    path = Path(settings.MEDIA_ROOT) / item.file.name
    path.write_bytes(b"%PDF-1.4 written before encryption")  # as an old deployment left it
    assert item.file.open("rb").read() == b"%PDF-1.4 written before encryption"  # plain files still read
    call_command("encrypt_files")
    assert path.read_bytes().startswith(MAGIC)
    item.refresh_from_db()
    assert item.file.open("rb").read() == b"%PDF-1.4 written before encryption"
    call_command("encrypt_files")  # idempotent
    assert item.file.open("rb").read() == b"%PDF-1.4 written before encryption"
