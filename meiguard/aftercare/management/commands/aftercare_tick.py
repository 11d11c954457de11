"""Run the aftercare clocks now (cron, e.g. every 5 minutes: the moderate reaction's clock is 2 hours).

    manage.py aftercare_tick

Missed and lost follow-ups, due/overdue notices, reaction escalations and the incidents' regulatory report
clocks (2 hours for an extra-major quality-safety event, 30 minutes for "at once"), each once (notification
dedupe keys); running it often is safe. The daily scheduler runs the same as the ``aftercare_clocks`` job.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from meiguard.aftercare.actions import run_clocks


class Command(BaseCommand):
    help = (
        "随访与不良反应计时 / Tick the aftercare clocks (missed follow-ups, reaction escalations; once each)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = run_clocks()
        self.stdout.write(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))
