"""Write and verify the hash-chained audit trail.

Entries are keyed (HMAC-SHA256, ``keys.py``; ADR 0008): without the key nobody can append, rewrite or renumber
an entry so that it verifies. Signed checkpoints of the chain heads, kept outside the database
(``audit_checkpoint``), make truncation and whole-chain replacement detectable too (``verify(checkpoints=…)``).

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

from . import keys
from .codes import ACTION_CODES
from .models import GENESIS_HASH, KEYED_HASH, LEGACY_HASH, AuditEntry, ChainHead

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


def _canonical_keyed(entry: AuditEntry) -> str:
    # The version and key id are inside the MAC: neither can be swapped to pass a row off under another key.
    return f"v{KEYED_HASH}|{entry.key_id}|" + _canonical(entry)


def compute_hash(prev_hash: str, entry: AuditEntry, key: bytes | None = None) -> str:
    """The entry's hash: HMAC-SHA256 under ``key`` (version 2), or legacy unkeyed SHA-256 (version 1)."""
    if entry.hash_version == LEGACY_HASH:
        return hashlib.sha256((prev_hash + _canonical(entry)).encode("utf-8")).hexdigest()
    if key is None:
        raise ValueError("a keyed entry needs its key")
    return keys.mac(key, prev_hash + _canonical_keyed(entry))


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
    key_id, key = keys.current()

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
        hash_version=KEYED_HASH,
        key_id=key_id,
    )
    entry.hash = compute_hash(head.last_hash, entry, key)
    entry.save(force_insert=True)
    ChainHead.objects.filter(pk=head.pk).update(last_hash=entry.hash)
    return entry


@dataclass(frozen=True, slots=True)
class Break:
    chain: str
    seq: int
    entry_id: int | None
    problem: str


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement that chain ``chain`` had ``count`` entries ending at ``seq`` with hash ``hash``."""

    chain: str
    seq: int
    hash: str
    count: int
    at: str
    key_id: str
    line: int = 0

    def payload(self) -> str:
        data = {
            "v": 1,
            "chain": self.chain,
            "seq": self.seq,
            "hash": self.hash,
            "count": self.count,
            "at": self.at,
            "key_id": self.key_id,
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"))


class CheckpointError(ValueError):
    pass


def sign_checkpoint(cp: Checkpoint, key: bytes) -> str:
    return keys.mac(keys.checkpoint_key(key), cp.payload())


def checkpoint_line(cp: Checkpoint, key: bytes) -> str:
    data = json.loads(cp.payload())
    data["sig"] = sign_checkpoint(cp, key)
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def take_checkpoints(*, at: dt.datetime | None = None) -> list[str]:
    """One signed JSON line per chain head: chain, seq, head hash, entry count, time, key id.

    Each head row is read with its own consistent (seq, last_hash); the count covers entries up to that seq.
    """
    key_id, key = keys.current()
    stamp = _plain(at or timezone.now())
    lines: list[str] = []
    for chain, seq, last_hash in ChainHead.objects.order_by("chain").values_list("chain", "seq", "last_hash"):
        if seq == 0:
            continue
        count = AuditEntry.objects.filter(chain=chain, seq__lte=seq).count()
        cp = Checkpoint(chain=chain, seq=seq, hash=last_hash, count=count, at=stamp, key_id=key_id)
        lines.append(checkpoint_line(cp, key))
    return lines


def parse_checkpoints(lines: Iterable[str]) -> tuple[list[Checkpoint], list[Break]]:
    """Read checkpoint lines; a line that is malformed or whose signature does not verify is a break."""
    known = keys.all_keys()
    out: list[Checkpoint] = []
    bad: list[Break] = []
    for number, raw in enumerate(lines, start=1):
        raw = raw.strip()
        if not raw:
            continue
        try:
            data = json.loads(raw)
            cp = Checkpoint(
                chain=str(data["chain"]),
                seq=int(data["seq"]),
                hash=str(data["hash"]),
                count=int(data["count"]),
                at=str(data["at"]),
                key_id=str(data["key_id"]),
                line=number,
            )
            sig = str(data["sig"])
        except (ValueError, KeyError, TypeError):
            bad.append(Break("-", 0, None, f"checkpoint line {number} is not a checkpoint"))
            continue
        key = known.get(cp.key_id)
        if key is None:
            bad.append(
                Break(cp.chain, cp.seq, None, f"checkpoint line {number}: unknown key id {cp.key_id!r}")
            )
            continue
        if not hmac.compare_digest(sign_checkpoint(cp, key), sig):
            bad.append(Break(cp.chain, cp.seq, None, f"checkpoint line {number}: signature does not verify"))
            continue
        out.append(cp)
    return out, bad


def _walk(chain: str, known: Mapping[str, bytes], marks: Mapping[int, list[Checkpoint]]) -> Break | None:
    """Check one chain from genesis; each checkpointed seq must still hold the checkpointed hash."""
    prev = GENESIS_HASH
    expected_seq = 1
    keyed_seen = False
    for entry in AuditEntry.objects.filter(chain=chain).order_by("seq").iterator(chunk_size=2000):
        if entry.seq != expected_seq:
            return Break(chain, expected_seq, None, f"missing entry (found seq {entry.seq})")
        if entry.chain != chain:  # pragma: no cover - filtered above
            return Break(chain, entry.seq, entry.pk, "entry belongs to another chain")
        if entry.prev_hash != prev:
            return Break(chain, entry.seq, entry.pk, "prev_hash does not match the previous entry")
        if entry.hash_version == KEYED_HASH:
            key = known.get(entry.key_id)
            if key is None:
                return Break(chain, entry.seq, entry.pk, f"signed with an unknown key id {entry.key_id!r}")
            keyed_seen = True
            ok = hmac.compare_digest(compute_hash(prev, entry, key), entry.hash)
        elif entry.hash_version == LEGACY_HASH:
            if keyed_seen:
                return Break(chain, entry.seq, entry.pk, "unkeyed entry after keyed entries (downgrade)")
            ok = hmac.compare_digest(compute_hash(prev, entry), entry.hash)
        else:
            return Break(chain, entry.seq, entry.pk, f"unknown hash version {entry.hash_version}")
        if not ok:
            return Break(chain, entry.seq, entry.pk, "content does not match its hash")
        for cp in marks.get(entry.seq, ()):
            if cp.hash != entry.hash:
                return Break(
                    chain, entry.seq, entry.pk, f"entry differs from checkpoint (line {cp.line}, {cp.at})"
                )
        prev = entry.hash
        expected_seq += 1
    last = expected_seq - 1
    beyond = [cp for seq, cps in marks.items() if seq > last for cp in cps]
    if beyond:
        cp = min(beyond, key=lambda c: c.seq)
        return Break(
            chain,
            cp.seq,
            None,
            f"chain ends at seq {last} but checkpoint line {cp.line} ({cp.at}) saw seq {cp.seq}",
        )
    head = ChainHead.objects.filter(chain=chain).first()
    if head is None:
        if last:
            return Break(chain, last, None, "chain head row is missing")
    elif head.seq != last or head.last_hash != prev:
        return Break(chain, expected_seq, None, "chain head does not match the last entry")
    return None


def verify(chains: Iterable[str] | None = None, *, checkpoints: Iterable[Checkpoint] = ()) -> list[Break]:
    """Walk every chain (or the given ones); report the first broken link of each.

    Every chain is walked that has a head row, an entry or a checkpoint, so deleting a head row (or a whole
    chain) does not hide a chain from verification.
    """
    marks: dict[str, dict[int, list[Checkpoint]]] = {}
    for cp in checkpoints:
        marks.setdefault(cp.chain, {}).setdefault(cp.seq, []).append(cp)
    if chains is not None:
        names = sorted(set(chains))
    else:
        names = sorted(
            set(ChainHead.objects.values_list("chain", flat=True))
            | set(AuditEntry.objects.order_by().values_list("chain", flat=True).distinct())
            | set(marks)
        )
    known = keys.all_keys()
    breaks: list[Break] = []
    for chain in names:
        found = _walk(chain, known, marks.get(chain, {}))
        if found:
            breaks.append(found)
    return breaks
