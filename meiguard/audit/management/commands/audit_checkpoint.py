from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from meiguard.audit import checkpoints


class Command(BaseCommand):
    help = (
        "写出审计链检查点 / Append one signed JSON line per audit chain head (chain, seq, hash, count, time, key "
        "id) to a file kept outside the database; audit_verify --checkpoint FILE checks the chains against it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, metavar="FILE", help="file to append to ('-' for stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        out = options["out"]
        if out == "-":
            for line in checkpoints.lines():
                self.stdout.write(line)
            return
        try:
            n = checkpoints.append_to(Path(out))
        except OSError as exc:
            raise CommandError(f"cannot write {out}: {exc}") from None
        self.stdout.write(self.style.SUCCESS(f"{n} checkpoint(s) appended to {out}"))
