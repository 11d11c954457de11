"""Write and verify the hash-chained audit trail.

``record`` must run inside the transaction of the change it describes: the entry and the change
commit or roll back together. Each organisation has its own chain; the chain head row is bumped
first (an UPDATE, which takes the row lock on PostgreSQL and the write lock on SQLite), so two
writers can never both extend the same link.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from meiguard.core import context
from meiguard.core.access import Actor

from .codes import ACTION_CODES
from .models import GENESIS_HASH, AuditEntry, ChainHead

MASK = "***"
PLATFORM_CHAIN = "platform"


def chain_for(org_id: int | None) -> str:
    return f"org-{org_id}" if org_id else PLATFORM_CHAIN


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "name") and hasattr(value, "storage"):  # FieldFile
        return value.name or ""
    return value


def _masked_fields(obj: models.Model) -> frozenset[str]:
    return frozenset(getattr(obj, "audit_masked_fields", ()))


def _mask(value: Any) -> str:
    """A keyed fingerprint: shows that a secret changed without revealing it."""
    digest = hmac.new(settings.SECRET_KEY.encode(), str(value).encode(), hashlib.sha256).hexdigest()
    return f"{MASK}{digest[:8]}"


def snapshot(obj: models.Model) -> dict[str, Any]:
    """Concrete field values (FKs as ids, secrets masked), for before/after comparison."""
    masked = _masked_fields(obj)
    data: dict[str, Any] = {}
    for f in obj._meta.concrete_fields:
        if f.name in ("created_at", "updated_at"):
            continue
        value = getattr(obj, f.attname)
        data[f.name] = _mask(value) if (f.name in masked and value not in (None, "")) else _plain(value)
    extra = getattr(obj, "audit_extra", None)
    if callable(extra):
        data.update({k: _plain(v) for k, v in extra().items()})
    return data


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, list[Any]]:
    before = before or {}
    after = after or {}
    out: dict[str, list[Any]] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            out[key] = [old, new]
    return out


def _canonical(entry: AuditEntry) -> str:
    payload = {
        "chain": entry.chain,
        "seq": entry.seq,
        "organization": entry.organization_id,
        "actor": entry.actor_id,
        "actor_label": entry.actor_label,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "object_repr": entry.object_repr,
        "changes": entry.changes,
        "reason": entry.reason,
        "request_id": entry.request_id,
        "ip": entry.ip,
        "created_at": _plain(entry.created_at),
    }
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def compute_hash(prev_hash: str, entry: AuditEntry) -> str:
    return hashlib.sha256((prev_hash + _canonical(entry)).encode("utf-8")).hexdigest()


def organization_of(obj: models.Model) -> int | None:
    getter = getattr(obj, "audit_organization_id", None)
    return getter() if callable(getter) else None


def record(
    actor: Actor,
    action: str,
    obj: models.Model,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    reason: str = "",
    organization_id: int | None = None,
    changes: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the organisation's chain, inside the caller's transaction.

    ``after`` defaults to a fresh snapshot of ``obj``; only changed fields are stored.
    """
    if action not in ACTION_CODES:
        raise ValueError(f"unknown audit action {action!r}; add it to audit/codes.py")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record must run inside the transaction of the change")
    if after is None:
        after = snapshot(obj)
    delta = dict(changes) if changes is not None else diff(before, after)
    org_id = organization_id if organization_id is not None else organization_of(obj)
    chain = chain_for(org_id)
    ctx = context.current()

    head, _ = ChainHead.objects.get_or_create(chain=chain)
    ChainHead.objects.filter(pk=head.pk).update(seq=F("seq") + 1)  # take the lock first
    head.refresh_from_db()
    entry = AuditEntry(
        chain=chain,
        seq=head.seq,
        organization_id=org_id,
        actor_id=actor.user_id,
        actor_label=actor.username,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        changes=_plain(delta),
        reason=reason,
        request_id=ctx.request_id,
        ip=ctx.ip,
        created_at=timezone.now(),
        prev_hash=head.last_hash,
    )
    entry.hash = compute_hash(head.last_hash, entry)
    entry.save(force_insert=True)
    ChainHead.objects.filter(pk=head.pk).update(last_hash=entry.hash)
    return entry


@dataclass(frozen=True, slots=True)
class Break:
    chain: str
    seq: int
    entry_id: int | None
    problem: str


def verify(chains: Iterable[str] | None = None) -> list[Break]:
    """Walk every chain (or the given ones); report the first broken link of each."""
    names = (
        list(chains)
        if chains is not None
        else list(ChainHead.objects.order_by("chain").values_list("chain", flat=True))
    )
    breaks: list[Break] = []
    for chain in names:
        prev = GENESIS_HASH
        expected_seq = 1
        found: Break | None = None
        for entry in AuditEntry.objects.filter(chain=chain).order_by("seq").iterator(chunk_size=2000):
            if entry.seq != expected_seq:
                found = Break(chain, expected_seq, None, f"missing entry (found seq {entry.seq})")
                break
            if entry.prev_hash != prev:
                found = Break(chain, entry.seq, entry.pk, "prev_hash does not match the previous entry")
                break
            if compute_hash(prev, entry) != entry.hash:
                found = Break(chain, entry.seq, entry.pk, "content does not match its hash")
                break
            prev = entry.hash
            expected_seq += 1
        if found is None:
            head = ChainHead.objects.filter(chain=chain).first()
            if head is not None and (head.seq != expected_seq - 1 or head.last_hash != prev):
                found = Break(chain, expected_seq, None, "chain head does not match the last entry")
        if found:
            breaks.append(found)
    return breaks
