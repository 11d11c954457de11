"""``manage.py publish_rule_pack <pack-code> <version> [--effective-from YYYY-MM-DD]``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from meiguard.core.access import Actor
from meiguard.core.errors import ActionError
from meiguard.rules import actions

from ._common import fail_with_action_error


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--effective-from must be YYYY-MM-DD, got {value!r}") from None


class Command(BaseCommand):
    help = "Publish a draft rule-pack version; it becomes immutable and is used from its effective date."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("pack_code")
        parser.add_argument("version", type=int)
        parser.add_argument(
            "--effective-from", dest="effective_from", help="YYYY-MM-DD (default: from pack.yaml)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        effective = _date(options["effective_from"]) if options["effective_from"] else None
        try:
            result = actions.publish_version(
                Actor.system("publish_rule_pack"),
                options["pack_code"],
                options["version"],
                effective_from=effective,
            )
        except ActionError as exc:
            raise fail_with_action_error(exc) from None
        v = result.version
        state = "published" if result.created else "already published"
        self.stdout.write(f"{v.pack.code} v{v.version}: {state}, effective_from={v.effective_from}")
