"""Remind about surgical checklist nodes that are due and not done (cron, e.g. every 10 minutes).

    manage.py remind_checklists

Each case and node is reminded once (notification dedupe key); running it often is safe. The daily scheduler
runs the same as the ``remind_due_checklists`` job.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from meiguard.clinical.actions import remind_due_checklists


class Command(BaseCommand):
    help = "手术安全核查未完成提醒 / Remind about due, incomplete surgical checklist nodes (once each)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"notified {remind_due_checklists()}")
