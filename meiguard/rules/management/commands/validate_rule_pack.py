"""``manage.py validate_rule_pack <path>``: check a pack directory; list every problem with its line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from meiguard.rules.packfile import PackInvalid, parse_pack

from ._common import fail_with_issues


class Command(BaseCommand):
    help = "Validate a rule-pack directory (pack.yaml + procedure CSV) without writing anything."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="pack directory or its pack.yaml")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            pack = parse_pack(options["path"])
        except PackInvalid as exc:
            raise fail_with_issues(exc) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"OK {pack.code} v{pack.version}: {len(pack.rules)} rules "
                f"({sum(1 for r in pack.rules if r.kind == 'procedure')} procedures)"
            )
        )
