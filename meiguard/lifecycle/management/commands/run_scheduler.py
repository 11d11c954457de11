"""The one scheduler entry point: enqueue the daily lifecycle jobs.

    manage.py run_scheduler --once [--date YYYY-MM-DD] [--force]   # from cron / a systemd timer at 01:00
    manage.py run_scheduler                                        # a loop that wakes daily at SCHEDULER_DAILY_AT

The jobs themselves run in the task worker (``manage.py db_worker``). A date whose jobs already completed (or
are queued or running) is a no-op unless ``--force``; a failed job is enqueued again.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from meiguard.core.access import Actor
from meiguard.lifecycle.actions import Planned, enqueue_daily
from meiguard.lifecycle.models import JobRun

DEFAULT_DAILY_AT = "01:00"


def daily_at() -> dt.time:
    raw = str(getattr(settings, "SCHEDULER_DAILY_AT", DEFAULT_DAILY_AT)).strip()
    try:
        hours, minutes = raw.split(":")
        return dt.time(int(hours), int(minutes))
    except ValueError:
        raise CommandError(f"SCHEDULER_DAILY_AT must be HH:MM (local time), got {raw!r}") from None


def next_wakeup(now: dt.datetime, at: dt.time) -> dt.datetime:
    """The next local ``at`` strictly after ``now`` (an aware datetime)."""
    local = timezone.localtime(now)
    candidate = local.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    if candidate <= local:
        candidate = timezone.localtime(
            timezone.make_aware(dt.datetime.combine(local.date() + dt.timedelta(days=1), at))
        )
    return candidate


class Command(BaseCommand):
    help = (
        "定时任务入口:排入每日的到期提醒与到期失效任务 / Enqueue the daily lifecycle jobs (--once for cron)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="enqueue one date's jobs and exit (for cron)")
        parser.add_argument(
            "--date", help="business date YYYY-MM-DD (default: today, Asia/Shanghai); with --once"
        )
        parser.add_argument(
            "--force", action="store_true", help="run again even if the date already completed"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        at = daily_at()
        if options["date"] and not options["once"]:
            raise CommandError("--date needs --once")
        if options["once"]:
            on = self._date(options["date"]) if options["date"] else timezone.localdate()
            self.enqueue(on, force=options["force"])
            return
        self.loop(at, force=options["force"])

    @staticmethod
    def _date(raw: str) -> dt.date:
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise CommandError(f"--date must be YYYY-MM-DD, got {raw!r}") from None

    def enqueue(self, on: dt.date, *, force: bool = False) -> list[Planned]:
        planned = enqueue_daily(Actor.system("run_scheduler"), on=on, force=force)
        for p in planned:
            if p.enqueued and p.run is not None:
                # With an in-process backend the job has already run; show where it stands.
                status = JobRun.objects.filter(pk=p.run.pk).values_list("status", flat=True).first()
                self.stdout.write(
                    f"enqueued {p.job} {on} (run #{p.run.pk}, attempt {p.run.attempt}, {status})"
                )
            elif p.run is not None:
                self.stdout.write(
                    f"skipped  {p.job} {on}: already {p.run.status} (run #{p.run.pk}); --force to rerun"
                )
            else:
                self.stdout.write(f"skipped  {p.job} {on}: enqueued concurrently by another scheduler")
        return planned

    def loop(
        self,
        at: dt.time,
        *,
        force: bool = False,
        now: Callable[[], dt.datetime] = timezone.now,
        sleep: Callable[[float], None] = time.sleep,
        cycles: int | None = None,
    ) -> None:
        """Wake at ``at`` local time each day and enqueue that day's jobs. On start, today's jobs are enqueued
        at once if their time has passed (a scheduler restarted at 09:00 still runs today's jobs)."""
        self.stdout.write(f"scheduler: daily at {at:%H:%M} ({settings.TIME_ZONE})")
        current = timezone.localtime(now())
        if current.time() >= at:
            self.enqueue(current.date(), force=force)
        done = 0
        while cycles is None or done < cycles:
            target = next_wakeup(now(), at)
            self.stdout.write(f"scheduler: sleeping until {target:%Y-%m-%d %H:%M}")
            while (remaining := (target - now()).total_seconds()) > 0:
                sleep(min(remaining, 60.0))  # short naps: a stop signal is noticed within a minute
            self.enqueue(target.date(), force=False)
            done += 1
