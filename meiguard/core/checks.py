"""System checks for production settings (run by ``manage.py check --deploy``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.caches, deploy=True)
def check_shared_cache(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend.endswith("LocMemCache"):
        return [
            Warning(
                "The default cache is per-process (locmem): with more than one worker process, a change in one "
                "process does not invalidate decision snapshots cached by the others.",
                hint="Set CACHE_URL=redis://host:6379/0 (or run a single worker process).",
                id="meiguard.W001",
            )
        ]
    return []
