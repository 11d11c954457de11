"""Encryption at rest for ID numbers (Fernet) plus an HMAC blind index for uniqueness and lookup.

Key: ``settings.FIELD_ENCRYPTION_KEY`` (urlsafe base64 of 32 bytes). With DEBUG on and no key set,
a key is derived from SECRET_KEY so development works out of the box; settings refuse to start
without a key when DEBUG is off.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


def _key_material() -> str:
    key = getattr(settings, "FIELD_ENCRYPTION_KEY", "") or ""
    if key:
        return key
    if settings.DEBUG:
        digest = hashlib.sha256(("meiguard-field-key:" + settings.SECRET_KEY).encode()).digest()
        return base64.urlsafe_b64encode(digest).decode()
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be set when DEBUG is off")


@lru_cache(maxsize=4)
def _fernet(key: str) -> Fernet:
    return Fernet(key.encode())


def encrypt(plain: str) -> str:
    return _fernet(_key_material()).encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _fernet(_key_material()).decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError) as exc:
        raise ValueError("cannot decrypt field: wrong FIELD_ENCRYPTION_KEY or corrupted value") from exc


def blind_index(plain: str) -> str:
    """Deterministic keyed hash (separate sub-key), so equal ID numbers can be found without decrypting."""
    sub_key = hmac.new(_key_material().encode(), b"blind-index", hashlib.sha256).digest()
    return hmac.new(sub_key, plain.encode("utf-8"), hashlib.sha256).hexdigest()


def mask_id_number(plain: str) -> str:
    """``110105199001011234`` → ``1101**********1234``."""
    if not plain:
        return ""
    if len(plain) <= 8:
        return "*" * len(plain)
    return plain[:4] + "*" * (len(plain) - 8) + plain[-4:]


class EncryptedCharField(models.TextField):
    """Holds plaintext in Python and Fernet ciphertext in the database column. Not filterable."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            raise TypeError(f"{self.name} is encrypted: filter on its blind index instead")
        return super().get_lookup(lookup_name)
