"""Uploaded files encrypted at rest: a FileSystemStorage that writes Fernet ciphertext.

Every FileField (qualification evidence, distribution authorizations, authorization agreements, application
evidence) uses the default storage, so each file on disk is ``FIELD_ENCRYPTION_KEY``-encrypted. Opening a
file through the storage (``field.open()``) decrypts it; there is no public URL — permission-checked views
stream the content. ``manage.py encrypt_files`` encrypts files written before this storage existed.
Uploads are limited to ``EVIDENCE_MAX_BYTES`` (10 MB by default), so whole-file encryption in memory is fine.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible

MAGIC = b"MGENC1\n"


def _fernet() -> Fernet:
    from .crypto import _fernet as cached
    from .crypto import _key_material

    return cached(_key_material())


def encrypt_bytes(data: bytes) -> bytes:
    return MAGIC + _fernet().encrypt(data)


def decrypt_bytes(data: bytes) -> bytes:
    if not data.startswith(MAGIC):
        return data  # a file from before encryption (see encrypt_files)
    try:
        return _fernet().decrypt(data[len(MAGIC) :])
    except InvalidToken as exc:
        raise ValueError("cannot decrypt file: wrong FIELD_ENCRYPTION_KEY or corrupted file") from exc


def is_encrypted(data: bytes) -> bool:
    return data.startswith(MAGIC)


@deconstructible
class EncryptedFileSystemStorage(FileSystemStorage):
    def _save(self, name: str, content: File) -> str:
        content.seek(0)
        return super()._save(name, ContentFile(encrypt_bytes(content.read())))  # type: ignore[misc]

    def _open(self, name: str, mode: str = "rb") -> File:
        if "w" in mode or "a" in mode:
            raise ValueError("encrypted files are written through save(), not opened for writing")
        with open(self.path(name), "rb") as handle:
            plain = decrypt_bytes(handle.read())
        out = ContentFile(plain, name=name)
        return out

    def size(self, name: str) -> int:
        return len(self._open(name).read())

    def url(self, name: Any) -> str:
        raise ValueError("uploaded files have no public URL; serve them through a permission-checked view")
