"""System checks for the audit chain key and checkpoints."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from . import keys


@register(Tags.security)
def check_audit_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    out: list[CheckMessage] = []
    try:
        key_id, key = keys.current()
        retired = keys.old_keys()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="meiguard.E101")]
    if not settings.DEBUG and key_id == keys.DEV_KEY_ID:
        out.append(
            Error(
                "The audit chain is signed with the development key while DEBUG is off.",
                hint="Set AUDIT_KEY (or AUDIT_KEY_FILE) and AUDIT_KEY_ID; see docs/operations.md § Audit chain.",
                id="meiguard.E102",
            )
        )
    if len(key) < keys.MIN_KEY_LENGTH:
        out.append(
            Error(
                f"AUDIT_KEY must be at least {keys.MIN_KEY_LENGTH} characters.",
                hint="python -c 'import secrets; print(secrets.token_urlsafe(48))'",
                id="meiguard.E103",
            )
        )
    if key_id in retired and retired[key_id] != key:
        out.append(
            Error(
                f"AUDIT_OLD_KEYS holds a different key under the current id {key_id!r}.",
                hint="Every key needs its own id: give the new key a new AUDIT_KEY_ID.",
                id="meiguard.E104",
            )
        )
    return out


@register(Tags.security, deploy=True)
def check_audit_checkpoints(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not getattr(settings, "AUDIT_CHECKPOINT_DIR", ""):
        return [
            Warning(
                "AUDIT_CHECKPOINT_DIR is not set: the scheduled job writes no audit checkpoints, so a truncated "
                "or re-signed chain cannot be detected.",
                hint="Point it at a directory on another host or a WORM store (docs/operations.md § Audit chain).",
                id="meiguard.W101",
            )
        ]
    return []
