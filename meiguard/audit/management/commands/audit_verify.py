from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from meiguard.audit import log


class Command(BaseCommand):
    help = (
        "校验审计日志哈希链 / Verify the audit hash chains (keyed), optionally against signed checkpoint files; "
        "exits 1 naming the first broken link of each chain."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chain", action="append", help="only this chain (org-<id> or platform)")
        parser.add_argument(
            "--checkpoint",
            action="append",
            default=[],
            metavar="FILE",
            help="checkpoint file written by audit_checkpoint (repeatable): every checkpointed head must still "
            "be in its chain, with the same hash, and the chain must continue from it",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        chains = options.get("chain") or None
        checkpoints: list[log.Checkpoint] = []
        breaks: list[log.Break] = []
        for name in options["checkpoint"]:
            path = Path(name)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"cannot read checkpoint file {name}: {exc}") from None
            found, bad = log.parse_checkpoints(text.splitlines())
            checkpoints += found
            breaks += bad
        if chains is not None:
            checkpoints = [cp for cp in checkpoints if cp.chain in chains]
        breaks += log.verify(chains, checkpoints=checkpoints)
        if breaks:
            for b in breaks:
                self.stderr.write(
                    f"BROKEN chain={b.chain} seq={b.seq} entry_id={b.entry_id or '-'}: {b.problem}"
                )
            raise CommandError(f"{len(breaks)} broken chain(s) or checkpoint(s)")
        note = f" and matches {len(checkpoints)} checkpoint(s)" if checkpoints else ""
        self.stdout.write(self.style.SUCCESS(f"OK: every audit chain is intact{note}"))
