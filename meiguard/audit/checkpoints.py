"""Writing checkpoint files: signed chain heads appended outside the database (ADR 0008).

The file is append-only JSON Lines; each run adds one line per chain. Keep it where the database's
administrators cannot rewrite it (another host, an object store with retention lock / WORM).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from . import log


def lines(*, at: dt.datetime | None = None) -> list[str]:
    return log.take_checkpoints(at=at)


def append_to(path: Path, *, at: dt.datetime | None = None) -> int:
    """Append the current heads to ``path`` (created if missing); fsync'd before returning. Returns lines."""
    new = lines(at=at)
    if not new:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write("".join(f"{line}\n" for line in new))
        fh.flush()
        os.fsync(fh.fileno())
    return len(new)


def daily_path(on: dt.date) -> Path:
    """``AUDIT_CHECKPOINT_DIR/audit-checkpoints-YYYY-MM.jsonl`` (one file a month, appended daily)."""
    directory = str(getattr(settings, "AUDIT_CHECKPOINT_DIR", "") or "")
    if not directory:
        raise ImproperlyConfigured("AUDIT_CHECKPOINT_DIR is not set")
    return Path(directory) / f"audit-checkpoints-{on:%Y-%m}.jsonl"
