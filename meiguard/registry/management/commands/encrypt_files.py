"""Encrypt uploaded files written before encryption at rest (idempotent: encrypted files are skipped)."""

from __future__ import annotations

import os
import tempfile

from django.apps import apps
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandParser
from django.db import models

from meiguard.registry.storage import encrypt_bytes, is_encrypted


def file_fields() -> list[tuple[type[models.Model], str]]:
    return [
        (model, f.name)
        for model in apps.get_models()
        for f in model._meta.get_fields()
        if isinstance(f, models.FileField)
    ]


class Command(BaseCommand):
    help = "加密历史上传文件 / Encrypt uploaded files that are still stored in plain form."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="only count what would be encrypted")

    def handle(self, *args: object, **options: object) -> None:
        done = skipped = missing = 0
        for model, field in file_fields():
            names = model._default_manager.exclude(**{field: ""}).values_list(field, flat=True).distinct()
            for name in names.iterator():
                path = default_storage.path(name)
                if not os.path.exists(path):
                    missing += 1
                    continue
                with open(path, "rb") as handle:
                    data = handle.read()
                if is_encrypted(data):
                    skipped += 1
                    continue
                done += 1
                if options["dry_run"]:
                    continue
                # Write beside the file, then replace it in one step: a crash never leaves half a file.
                fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
                with os.fdopen(fd, "wb") as out:
                    out.write(encrypt_bytes(data))
                os.replace(tmp, path)
        verb = "would encrypt" if options["dry_run"] else "encrypted"
        self.stdout.write(f"{verb} {done}, already encrypted {skipped}, missing {missing}")
