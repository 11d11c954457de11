"""Every state change of the rules app: load a pack as a draft version, publish a version."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import yaml
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from meiguard.audit import log as audit
from meiguard.core.access import Actor
from meiguard.core.errors import ActionError

from . import services
from .choices import Jurisdiction, VersionStatus
from .models import Rule, RulePack, RulePackVersion
from .packfile import PACK_FILE, ParsedPack, parse_pack
from .sources import cites, source_text


@dataclass(frozen=True, slots=True)
class LoadResult:
    version: RulePackVersion
    created: bool  # False: the same content was already stored (nothing written)


@transaction.atomic
def load_pack(actor: Actor, path: str | Path, *, parsed: ParsedPack | None = None) -> LoadResult:
    """Validate ``path`` and store it as a draft version (``PackInvalid`` if the files are bad).

    Loading the same content again is a no-op; a draft with the same number is replaced; a
    published version with the same number but different content is refused.
    """
    parsed = parsed or parse_pack(path)
    meta = parsed.meta
    base = None
    if parsed.is_overlay:
        base = RulePack.objects.filter(code=meta["extends"]).first()
        if base is None:
            raise ActionError(
                "RULE_PACK_BASE_MISSING",
                _("请先载入基础规则包 %(code)s") % {"code": meta["extends"]},
                field="extends",
            )
    pack, created_pack = RulePack.objects.get_or_create(
        code=meta["code"],
        defaults={
            "name": meta["name"],
            "name_en": meta["name_en"],
            "jurisdiction": meta["jurisdiction"],
            "province": meta["province"],
            "extends": base,
        },
    )
    if not created_pack:
        if (pack.jurisdiction, pack.province, pack.extends_id) != (
            meta["jurisdiction"],
            meta["province"],
            base.pk if base else None,
        ):
            raise ActionError(
                "RULE_PACK_MISMATCH",
                _("规则包 %(code)s 的层级、省份或基础包与已有记录不一致") % {"code": pack.code},
                field="pack",
            )
        if (pack.name, pack.name_en) != (meta["name"], meta["name_en"]):
            pack.name, pack.name_en = meta["name"], meta["name_en"]
            pack.save(update_fields=["name", "name_en"])

    checksum = parsed.checksum()
    effective = dt.date.fromisoformat(meta["effective_from"]) if meta["effective_from"] else None
    version = RulePackVersion.objects.select_for_update().filter(pack=pack, version=parsed.version).first()
    before = None
    if version is not None:
        if version.checksum == checksum:
            if not version.is_published and version.effective_from != effective:
                version.effective_from = effective
                version.save(update_fields=["effective_from"])
            return LoadResult(version, False)
        if version.is_published:
            raise ActionError(
                "RULE_PACK_VERSION_PUBLISHED",
                _("%(pack)s v%(version)s 已发布,内容不能再改;请提高 version 后载入为新版本")
                % {"pack": pack.code, "version": parsed.version},
                field="version",
                status=409,
            )
        before = audit.snapshot(version)
        version.rules.all().delete()
    else:
        version = RulePackVersion(pack=pack, version=parsed.version)
    version.status = VersionStatus.DRAFT
    version.effective_from = effective
    version.source_doc = source_text(cites(*meta["cites"]))[:255]
    version.effective_basis = (
        source_text(cites(meta["effective_basis"]))[:255] if meta["effective_basis"] else ""
    )
    version.description = meta["description"]
    version.checksum = checksum
    version.loaded_from = str(parsed.path)[:255]
    version.save()
    Rule.objects.bulk_create(
        Rule.like(
            r,
            version=version,
            title=r.title[:200],
            title_en=r.title_en[:200],
            source=r.source[:255],
            position=i,
        )
        for i, r in enumerate(parsed.rules)
    )
    audit.record(actor, "rules.rulepackversion.loaded", version, before=before)
    return LoadResult(version, True)


@transaction.atomic
def publish_version(
    actor: Actor, pack_code: str, version_number: int, *, effective_from: dt.date | None = None
) -> LoadResult:
    """Publish a draft; from then on it is immutable. Publishing again with the same date is a no-op."""
    version = (
        RulePackVersion.objects.select_for_update()
        .select_related("pack")
        .filter(pack__code=pack_code, version=version_number)
        .first()
    )
    if version is None:
        raise ActionError(
            "RULE_PACK_VERSION_NOT_FOUND",
            _("没有规则包版本 %(pack)s v%(version)s") % {"pack": pack_code, "version": version_number},
            status=404,
        )
    if version.is_published:
        if effective_from is None or effective_from == version.effective_from:
            return LoadResult(version, False)
        raise ActionError(
            "RULE_PACK_VERSION_PUBLISHED",
            _("%(pack)s v%(version)s 已发布,生效日期不能再改")
            % {"pack": pack_code, "version": version_number},
            field="effective_from",
            status=409,
        )
    effective = effective_from or version.effective_from
    if effective is None:
        raise ActionError(
            "EFFECTIVE_FROM_REQUIRED", _("发布时必须给出生效日期(--effective-from)"), field="effective_from"
        )
    base_id = version.pack.extends_id if version.pack.jurisdiction == Jurisdiction.PROVINCIAL else None
    if base_id is not None and not RulePackVersion.objects.published().filter(pack_id=base_id).exists():
        raise ActionError(
            "RULE_PACK_BASE_UNPUBLISHED", _("基础规则包尚无已发布版本,不能发布覆盖包"), status=409
        )
    before = audit.snapshot(version)
    version.status = VersionStatus.PUBLISHED
    version.effective_from = effective
    version.published_at = timezone.now()
    version.save(update_fields=["status", "effective_from", "published_at"])
    audit.record(actor, "rules.rulepackversion.published", version, before=before)
    services.bump_generation()  # in this transaction: every process sees the new version when it commits
    services.clear_cache()
    transaction.on_commit(services.clear_cache)
    return LoadResult(version, True)


def builtin_pack_dirs(root: Path | None = None) -> list[Path]:
    """Shipped pack directories, base packs before the overlays that extend them."""
    root = Path(root or settings.RULE_PACK_DIR)
    dirs = [d for d in sorted(root.iterdir()) if (d / PACK_FILE).is_file()]

    def is_overlay(d: Path) -> bool:
        try:
            meta = (yaml.safe_load((d / PACK_FILE).read_text(encoding="utf-8")) or {}).get("pack") or {}
        except yaml.YAMLError:
            return False
        return bool(meta.get("extends"))

    return sorted(dirs, key=lambda d: (is_overlay(d), d.name))


@transaction.atomic
def load_builtin(actor: Actor, *, publish: bool = True, root: Path | None = None) -> list[LoadResult]:
    """Load (and publish) every shipped pack; idempotent. All or nothing."""
    results = []
    for directory in builtin_pack_dirs(root):
        result = load_pack(actor, directory)
        if publish:
            published = publish_version(actor, result.version.pack.code, result.version.version)
            result = LoadResult(published.version, result.created or published.created)
        results.append(result)
    return results
