"""Explicit hooks other apps register in their ``AppConfig.ready`` (no Django signals).

``close_record`` calls every function registered with ``register_record_closed`` inside its own transaction,
after the record is closed and before the audit entry commits: a hook that raises rolls the closing back. Apps
that build on the case (aftercare: the follow-up plan) depend on clinical; clinical never imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from meiguard.core.access import Actor

    from .models import Case, OperationRecord

RecordClosedHook = Callable[["Actor", "Case", "OperationRecord"], Any]
_record_closed: list[RecordClosedHook] = []


def register_record_closed(fn: RecordClosedHook) -> None:
    """Call ``fn(actor, case, record)`` whenever a treatment record is closed (idempotent registration)."""
    if fn not in _record_closed:
        _record_closed.append(fn)


def record_closed(actor: Actor, case: Case, record: OperationRecord) -> None:
    for fn in tuple(_record_closed):
        fn(actor, case, record)
