"""Tenant-scoped reads of aftercare (``visible_to``); a foreign or missing row is a 404."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, QuerySet
from django.utils import timezone

from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.registry.models import Lot

from . import policy
from .actions import _local_end_of_day, _settings_for
from .choices import OPEN_FOLLOW_UP, ReactionStatus
from .models import AdverseReaction, FollowUp

FOLLOW_UP_RELATED = ("case", "case__client", "case__operator", "assignee", "institution")
REACTION_RELATED = ("case", "case__client", "case__operator", "assignee", "institution", "follow_up")


def follow_ups(
    actor: Actor,
    *,
    institution_id: int | None = None,
    mine: bool = False,
    status: str = "",
    due: str = "",
    at: dt.datetime | None = None,
) -> QuerySet[FollowUp]:
    """Follow-ups the actor may see; ``mine``: assigned to the actor's practitioner records; ``due``:
    ``today`` (open, due by the end of the local day, not yet overdue), ``overdue`` (open, past due) or
    ``open``."""
    at = at or timezone.now()
    qs = FollowUp.objects.visible_to(actor).select_related(*FOLLOW_UP_RELATED).order_by("due_at", "pk")
    if institution_id is not None:
        qs = qs.filter(institution_id=institution_id)
    if mine:
        qs = qs.filter(assignee__user_id=actor.user_id) if actor.user_id else qs.none()
    if status:
        qs = qs.filter(status=status)
    if due == "overdue":
        qs = qs.filter(status__in=OPEN_FOLLOW_UP, due_at__lt=at)
    elif due == "today":
        qs = qs.filter(status__in=OPEN_FOLLOW_UP, due_at__gte=at, due_at__lt=_local_end_of_day(at))
    elif due == "open":
        qs = qs.filter(status__in=OPEN_FOLLOW_UP)
    return qs


def follow_up(actor: Actor, pk: int) -> FollowUp:
    found = FollowUp.objects.visible_to(actor).select_related(*FOLLOW_UP_RELATED).filter(pk=pk).first()
    if found is None:
        raise NotFoundField("follow_up_id")
    return found


@dataclass(frozen=True, slots=True)
class MyWork:
    overdue: list[FollowUp]
    today: list[FollowUp]
    reactions: list[AdverseReaction]


def my_work(actor: Actor, at: dt.datetime | None = None, limit: int = 20) -> MyWork:
    """The dashboard panel: my overdue and today's follow-ups, and open reactions I am responsible for
    (three queries)."""
    at = at or timezone.now()
    if not actor.user_id:
        return MyWork([], [], [])
    overdue = list(follow_ups(actor, mine=True, due="overdue", at=at)[:limit])
    today = list(follow_ups(actor, mine=True, due="today", at=at)[:limit])
    rx = list(
        AdverseReaction.objects.visible_to(actor)
        .filter(status=ReactionStatus.OPEN, assignee__user_id=actor.user_id)
        .select_related(*REACTION_RELATED)
        .order_by("due_at", "pk")[:limit]
    )
    return MyWork(overdue, today, rx)


def reactions(
    actor: Actor,
    *,
    institution_id: int | None = None,
    grade: str = "",
    status: str = "",
    clock: str = "",
    at: dt.datetime | None = None,
) -> QuerySet[AdverseReaction]:
    at = at or timezone.now()
    qs = (
        AdverseReaction.objects.visible_to(actor)
        .select_related(*REACTION_RELATED)
        .order_by("-reported_at", "-pk")
    )
    if institution_id is not None:
        qs = qs.filter(institution_id=institution_id)
    if grade:
        qs = qs.filter(grade=grade)
    if status:
        qs = qs.filter(status=status)
    if clock == "running":
        qs = qs.filter(handled_at__isnull=True, due_at__gt=at)
    elif clock == "overdue":
        qs = qs.filter(handled_at__isnull=True, due_at__lte=at)
    elif clock == "handled":
        qs = qs.filter(handled_at__isnull=False)
    return qs


def reaction(actor: Actor, pk: int) -> AdverseReaction:
    found = (
        AdverseReaction.objects.visible_to(actor)
        .select_related(*REACTION_RELATED)
        .prefetch_related("steps__by", "lots__product")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise NotFoundField("reaction_id")
    return found


@dataclass(frozen=True, slots=True)
class LotFlag:
    lot_id: int
    reactions: int
    threshold: int
    window_days: int
    flagged: bool


def lot_flag(actor: Actor, lot_id: int, at: dt.datetime | None = None) -> LotFlag:
    """Reactions on one lot in the institution's window, against its threshold (institution policy)."""
    at = at or timezone.now()
    lot = Lot.objects.visible_to(actor).select_related("institution").filter(pk=lot_id).first()
    if lot is None:
        raise NotFoundField("lot_id")
    values = _settings_for(lot.institution, at)
    window, threshold = values[policy.LOT_WINDOW_RULE], values[policy.LOT_THRESHOLD_RULE]
    n = (
        AdverseReaction.objects.visible_to(actor)
        .filter(lots=lot, reported_at__gte=at - dt.timedelta(days=window))
        .distinct()
        .count()
    )
    return LotFlag(lot.pk, n, threshold, window, n >= threshold)


def flagged_lots(actor: Actor, institution_id: int, at: dt.datetime | None = None) -> list[tuple[Lot, int]]:
    """The institution's lots with at least its threshold of reactions in its window (two queries + policy)."""
    at = at or timezone.now()
    from meiguard.registry.models import Institution

    inst = Institution.objects.visible_to(actor).filter(pk=institution_id).first()
    if inst is None:
        raise NotFoundField("institution_id")
    values = _settings_for(inst, at)
    window, threshold = values[policy.LOT_WINDOW_RULE], values[policy.LOT_THRESHOLD_RULE]
    rows = (
        AdverseReaction.lots.through.objects.filter(
            adversereaction__institution_id=inst.pk,
            adversereaction__reported_at__gte=at - dt.timedelta(days=window),
        )
        .values("lot_id")
        .annotate(n=Count("adversereaction_id", distinct=True))
        .values_list("lot_id", "n")  # type: ignore[misc]
    )
    counts = {lot_id: n for lot_id, n in rows if n >= threshold}
    lots = Lot.objects.visible_to(actor).select_related("product").filter(pk__in=list(counts))
    return sorted(((lot, counts[lot.pk]) for lot in lots), key=lambda p: (-p[1], p[0].pk))
