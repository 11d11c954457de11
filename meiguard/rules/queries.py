"""Reads for pages and the API. Rule packs are platform reference data: any signed-in user may read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Prefetch
from django.http import Http404

from . import services
from .choices import RuleKind
from .models import Rule, RulePack, RulePackVersion
from .services import Procedure


def packs_with_versions() -> list[RulePack]:
    """The shared packs (national, provincial, the institution template); institutions' own policies are theirs."""
    versions = RulePackVersion.objects.annotate(rule_count=Count("rules")).order_by("-version")
    return list(
        RulePack.objects.filter(institution_pk__isnull=True)
        .select_related("extends")
        .prefetch_related(Prefetch("versions", queryset=versions))
        .order_by("jurisdiction", "code")
    )


def may_read_pack(actor: Any, pack: RulePack) -> bool:
    """Shared packs are public to signed-in users; an institution's own policy to its staff and overseers."""
    if pack.organization_pk is None or actor is None or actor.is_unrestricted:
        return True
    return pack.organization_pk in actor.readable_org_ids


def get_pack(code: str, actor: Any = None) -> RulePack:
    pack = RulePack.objects.select_related("extends").filter(code=code).first()
    if pack is None or not may_read_pack(actor, pack):
        raise Http404(code)
    return pack


def get_version(code: str, version: int, actor: Any = None) -> RulePackVersion:
    found = (
        RulePackVersion.objects.select_related("pack", "pack__extends")
        .filter(pack__code=code, version=version)
        .first()
    )
    if found is None or not may_read_pack(actor, found.pack):
        raise Http404(f"{code} v{version}")
    return found


def version_rules(
    version: RulePackVersion, *, kind: str | None = None, include_procedures: bool = True
) -> list[Rule]:
    qs = Rule.objects.filter(version=version).order_by("position", "pk")
    if kind:
        qs = qs.filter(kind=kind)
    elif not include_procedures:
        qs = qs.exclude(kind=RuleKind.PROCEDURE)
    return list(qs)


@dataclass(frozen=True, slots=True)
class ProcedureFilter:
    subject: str | None = None
    grade: int | None = None  # 0 = ungraded items
    invasive: str | None = None
    q: str = ""

    def matches(self, p: Procedure) -> bool:
        if self.subject and p.subject != self.subject:
            return False
        if self.grade is not None and (p.grade or 0) != self.grade:
            return False
        if self.invasive and p.invasiveness != self.invasive:
            return False
        if self.q:
            needle = self.q.strip().lower()
            return any(needle in s.lower() for s in (p.code, p.name_zh, p.name_en, p.category))
        return True


def filter_procedures(procedures: Iterable[Procedure], flt: ProcedureFilter) -> list[Procedure]:
    return [p for p in procedures if flt.matches(p)]


def version_procedures(version: RulePackVersion, flt: ProcedureFilter) -> list[Procedure]:
    """The procedure catalog as the version applies it (an overlay on top of its base)."""
    return filter_procedures(services.effective_rules(version).procedures.values(), flt)
