"""The audit chain keys, read from settings (the environment), never from the database.

``AUDIT_KEY`` / ``AUDIT_KEY_ID`` sign new entries and checkpoints; ``AUDIT_OLD_KEYS`` (``id:key`` pairs, comma-
or newline-separated) keep retired keys available to ``audit_verify``. Entries name the key id they were signed
with, so a chain may span several keys (rotation) and still verify end to end.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEV_KEY_ID = "dev-only"
KEY_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
MIN_KEY_LENGTH = 32
CHECKPOINT_LABEL = b"meiguard-audit-checkpoint-v1"


def _check_id(key_id: str, where: str) -> str:
    if not KEY_ID_RE.match(key_id):
        raise ImproperlyConfigured(f"{where}: key id {key_id!r} must be 1-32 of A-Z a-z 0-9 _ . -")
    return key_id


def current() -> tuple[str, bytes]:
    """(key id, key) that signs new entries."""
    key_id = _check_id(str(settings.AUDIT_KEY_ID).strip(), "AUDIT_KEY_ID")
    key = str(settings.AUDIT_KEY)
    if not key:
        raise ImproperlyConfigured("AUDIT_KEY is empty")
    return key_id, key.encode("utf-8")


def old_keys() -> dict[str, bytes]:
    raw = str(getattr(settings, "AUDIT_OLD_KEYS", "") or "")
    out: dict[str, bytes] = {}
    for item in re.split(r"[,\n]", raw):
        item = item.strip()
        if not item:
            continue
        key_id, sep, key = item.partition(":")
        if not sep or not key.strip():
            raise ImproperlyConfigured("AUDIT_OLD_KEYS must be id:key pairs separated by commas or newlines")
        out[_check_id(key_id.strip(), "AUDIT_OLD_KEYS")] = key.strip().encode("utf-8")
    return out


def all_keys() -> dict[str, bytes]:
    """Every key verification may use: the retired ones and the current one (which wins on a clash)."""
    key_id, key = current()
    return {**old_keys(), key_id: key}


def mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def checkpoint_key(key: bytes) -> bytes:
    """A separate key for checkpoints, so a checkpoint line can never be passed off as an entry hash."""
    return hmac.new(key, CHECKPOINT_LABEL, hashlib.sha256).digest()


def fingerprint(key: bytes) -> str:
    """Safe to print or log: identifies a key without revealing it."""
    return hmac.new(key, b"meiguard-audit-key-fingerprint", hashlib.sha256).hexdigest()[:12]
