from django.core.management.base import BaseCommand, CommandError, CommandParser

from meiguard.audit import log


class Command(BaseCommand):
    help = "校验审计日志哈希链 / Verify the audit hash chains; exits 1 naming the first broken link."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chain", action="append", help="only this chain (org-<id> or platform)")

    def handle(self, *args: object, **options: object) -> None:
        chains = options.get("chain") or None
        breaks = log.verify(chains)  # type: ignore[arg-type]
        if breaks:
            for b in breaks:
                self.stderr.write(
                    f"BROKEN chain={b.chain} seq={b.seq} entry_id={b.entry_id or '-'}: {b.problem}"
                )
            raise CommandError(f"{len(breaks)} broken chain(s)")
        self.stdout.write(self.style.SUCCESS("OK: every audit chain is intact"))
