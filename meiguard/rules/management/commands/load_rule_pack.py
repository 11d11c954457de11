"""``manage.py load_rule_pack <path>`` (draft) or ``load_rule_pack --builtin [--publish]``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from meiguard.core.access import Actor
from meiguard.core.errors import ActionError
from meiguard.rules import actions
from meiguard.rules.packfile import PackInvalid

from ._common import fail_with_action_error, fail_with_issues


class Command(BaseCommand):
    help = (
        "Load a rule pack as a draft version. With --builtin, load the shipped packs "
        "(national, then overlays); add --publish to publish them (idempotent)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", help="pack directory or its pack.yaml")
        parser.add_argument("--builtin", action="store_true", help="load the packs shipped in RULE_PACK_DIR")
        parser.add_argument("--publish", action="store_true", help="with --builtin: also publish them")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor.system("load_rule_pack")
        if options["builtin"] == bool(options["path"]):
            raise CommandError("give either a path or --builtin")
        if options["publish"] and not options["builtin"]:
            raise CommandError("--publish goes with --builtin; for one pack use publish_rule_pack")
        try:
            if options["builtin"]:
                results = actions.load_builtin(actor, publish=options["publish"])
            else:
                results = [actions.load_pack(actor, options["path"])]
        except PackInvalid as exc:
            raise fail_with_issues(exc) from None
        except ActionError as exc:
            raise fail_with_action_error(exc) from None
        for result in results:
            v = result.version
            state = "loaded" if result.created else "unchanged"
            self.stdout.write(
                f"{v.pack.code} v{v.version}: {state}, {v.get_status_display()} "
                f"({v.rules.count()} rules, effective_from={v.effective_from or '-'})"
            )
