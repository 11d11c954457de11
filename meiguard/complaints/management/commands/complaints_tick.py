"""Run the complaint clocks now (cron, e.g. every 15 minutes; the acknowledgement clock is counted in hours).

    manage.py complaints_tick

Warnings before and notices at breach of the acknowledgement and resolution deadlines, each once (notification
dedupe keys); running it often is safe. The daily scheduler runs the same inside the ``aftercare_clocks`` job.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from meiguard.complaints.actions import tick


class Command(BaseCommand):
    help = "投诉计时 / Tick the complaint clocks (warnings and breaches of both deadlines; once each)."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = tick()
        self.stdout.write(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))
