"""Bulk import state changes: dry run, apply a checked upload, or check-and-apply in one step.

Every run executes the rows through the registry and authz actions inside one transaction. A dry run
always rolls that transaction back (so it sees exactly what an apply would, including model validation,
overlapping authorizations and rule-pack codes); an apply rolls it back as soon as any row has an error,
so a file is written entirely or not at all. Either way an ``ImportRun`` records who, when, which file
(name + sha256), the counts and every error; only a successful apply is audited
(``bulk.importrun.applied``, once per institution written to) and notifies that institution's managers.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from meiguard.audit import log as audit
from meiguard.core.access import Actor
from meiguard.core.choices import Role
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.notify.messages import label
from meiguard.notify.models import NotificationKind
from meiguard.notify.services import send, users_with_roles
from meiguard.registry.crypto import decrypt, encrypt
from meiguard.registry.models import Institution

from . import queries, workbook
from .choices import ImportKind, RowAction, RunMode, RunStatus
from .importer import Importer, Result
from .models import ImportRun
from .specs import SHEETS_BY_KIND
from .workbook import FileRejected, SheetRows

MAX_UPLOAD_BYTES: int = getattr(settings, "BULK_MAX_UPLOAD_BYTES", 5 * 1024 * 1024)
APPLY_WITHIN = dt.timedelta(hours=24)  # a dry run can be applied this long; its stored file is then dropped
NOTIFY_ROLES = (Role.INSTITUTION_ADMIN, Role.COMPLIANCE_OFFICER)


class _Rollback(Exception):
    """Leave the import transaction without committing (dry runs, and applies with errors)."""


def _encrypt(content: bytes) -> str:
    return encrypt(base64.b64encode(content).decode("ascii"))


def _decrypt(token: str) -> bytes:
    return base64.b64decode(decrypt(token))


def file_size(size: int) -> str:
    return f"{size / 1048576:.1f} MB" if size >= 1048576 else f"{max(1, round(size / 1024))} KB"


def too_large(size: int) -> str:
    return _("文件过大(%(size)s),最大 %(max)s") % {
        "size": file_size(size),
        "max": file_size(MAX_UPLOAD_BYTES),
    }


def check_kind(kind: str) -> str:
    if kind not in SHEETS_BY_KIND:
        raise FieldErrors(
            {"kind": [_("导入内容无效,可选:%(choices)s") % {"choices": ", ".join(ImportKind.values)}]}
        )
    return kind


def read_upload(kind: str, file_name: str, content: bytes) -> list[SheetRows]:
    """The file's rows in the format of ``kind``, or ``FileRejected`` (400) naming every file-level problem."""
    check_kind(kind)
    if len(content) > MAX_UPLOAD_BYTES:
        raise FileRejected([too_large(len(content))])
    sheets = workbook.read(content, file_name, SHEETS_BY_KIND[kind], str(ImportKind(kind).label))
    if not any(sheet.rows for sheet in sheets):
        raise FileRejected([_("文件中没有数据行(数据应从第2行开始)")])
    return sheets


def dry_run(actor: Actor, *, kind: str, file_name: str, content: bytes) -> ImportRun:
    """Check every row and report what would be created, updated or left unchanged; writes nothing else."""
    return _run(actor, kind=kind, file_name=file_name, content=content, write=False)


def import_file(actor: Actor, *, kind: str, file_name: str, content: bytes) -> ImportRun:
    """Check and write in one step (API clients): all rows, or none if any has an error."""
    return _run(actor, kind=kind, file_name=file_name, content=content, write=True)


def apply(actor: Actor, pk: int) -> ImportRun:
    """Write the file of the actor's own error-free dry run ``pk`` (once, within 24 hours), re-checking every row."""
    source = queries.run_to_apply(actor, pk)
    if source.status != RunStatus.VALID:
        raise ActionError("RUN_INVALID", _("该试运行有错误,不能导入;请修改文件后重新上传"), status=409)
    if source.applied_at is not None:
        raise ActionError("ALREADY_APPLIED", _("该文件已经导入过了"), status=409)
    if not source.content or source.created_at < timezone.now() - APPLY_WITHIN:
        raise ActionError("RUN_EXPIRED", _("试运行已超过 24 小时,请重新上传文件"), status=409)
    content = _decrypt(source.content)
    if hashlib.sha256(content).hexdigest() != source.sha256:  # pragma: no cover - storage corruption
        raise ActionError("RUN_EXPIRED", _("保存的文件已损坏,请重新上传文件"), status=409)
    return _run(
        actor, kind=source.kind, file_name=source.file_name, content=content, write=True, source=source
    )


def _run(
    actor: Actor, *, kind: str, file_name: str, content: bytes, write: bool, source: ImportRun | None = None
) -> ImportRun:
    sheets = read_upload(kind, file_name, content)
    meta: dict[str, Any] = {
        "kind": kind,
        "file_name": (file_name or "")[:255],
        "sha256": hashlib.sha256(content).hexdigest(),
        "size": len(content),
    }
    outcome: Result | None = None
    try:
        with transaction.atomic():
            if source is not None:
                claimed = ImportRun.objects.filter(pk=source.pk, applied_at__isnull=True).update(
                    applied_at=timezone.now(), content=""
                )
                if claimed != 1:
                    raise ActionError("ALREADY_APPLIED", _("该文件已经导入过了"), status=409)
            outcome = Importer(actor, sheets).run()
            if write and not outcome.errors:
                return _applied(actor, meta, outcome, source)
            raise _Rollback
    except _Rollback:
        pass
    assert outcome is not None
    status = RunStatus.FAILED if write else (RunStatus.INVALID if outcome.errors else RunStatus.VALID)
    with transaction.atomic():
        _purge()
        return _record(
            actor,
            mode=RunMode.APPLY if write else RunMode.DRY_RUN,
            status=status,
            outcome=outcome,
            content=_encrypt(content) if status == RunStatus.VALID else "",
            source=source,
            **meta,
        )


def _record(actor: Actor, *, outcome: Result, **fields: Any) -> ImportRun:
    run = ImportRun.objects.create(
        created_by_id=actor.user_id,
        actor_label=actor.username[:150],
        counts=outcome.counts(),
        errors=[e.as_dict() for e in outcome.errors],
        changes=outcome.changes(),
        **fields,
    )
    run.institutions.set(outcome.institution_ids())
    return run


def _applied(actor: Actor, meta: dict[str, Any], outcome: Result, source: ImportRun | None) -> ImportRun:
    run = _record(actor, mode=RunMode.APPLY, status=RunStatus.APPLIED, outcome=outcome, source=source, **meta)
    totals = run.totals()
    changes = {
        "kind": meta["kind"],
        "file_name": meta["file_name"],
        "sha256": meta["sha256"],
        "counts": totals,
    }
    orgs = sorted(
        set(
            Institution.objects.filter(pk__in=outcome.institution_ids()).values_list(
                "organization_id", flat=True
            )
        )
    )
    for org_id in orgs or [None]:
        audit.record(
            actor,
            "bulk.importrun.applied",
            run,
            after={},
            changes=changes,
            organization_id=org_id,
            reason=meta["file_name"],
        )
    written = totals[RowAction.CREATE] + totals[RowAction.UPDATE]
    if written:
        recipients = {u for org_id in orgs for u in users_with_roles(org_id, NOTIFY_ROLES)} - {actor.user_id}
        send(
            recipients,
            kind=NotificationKind.IMPORT,
            message="bulk.import_applied",
            params={
                "file": meta["file_name"],
                "who": actor.username,
                "kind": label(ImportKind(meta["kind"]).label),
                "create": totals[RowAction.CREATE],
                "update": totals[RowAction.UPDATE],
                "unchanged": totals[RowAction.UNCHANGED],
            },
            url=reverse("bulk:run", args=[run.pk]),
            dedupe_key=f"bulk-import:{run.pk}",
        )
    return run


def _purge() -> None:
    """Stored uploads are only kept while they can be applied."""
    ImportRun.objects.filter(created_at__lt=timezone.now() - APPLY_WITHIN).exclude(content="").update(
        content=""
    )
