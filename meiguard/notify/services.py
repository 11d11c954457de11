"""Sending notifications: ``send`` stores one in-app row per recipient and e-mails it after commit.

Callers pass users (or ids) and a message code with parameters, never a finished text. With a ``dedupe_key`` the same key is delivered to the same person once,
however often the caller runs (the unique constraint decides, so two racing jobs cannot both send).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from meiguard.core.models import Membership, User

from .messages import render_in
from .models import Notification


def send(
    recipients: Iterable[User | int | None],
    *,
    kind: str,
    message: str,
    params: dict[str, Any] | None = None,
    url: str = "",
    dedupe_key: str = "",
    email: bool = True,
) -> list[Notification]:
    """Notify each distinct recipient; returns the rows created (already-sent keys are skipped).

    ``message`` is a code registered in some app's ``notice_texts.py`` and ``params`` its JSON parameters
    (see ``messages``): each reader sees the text in their own language. The text in the site language is
    stored too, as the fallback."""
    params = params or {}
    text = render_in(settings.LANGUAGE_CODE, message, params)  # unknown code or bad params fail here, loudly
    ids = sorted({r if isinstance(r, int) else r.pk for r in recipients if r is not None})
    if not ids:
        return []
    existing: set[int] = set()
    if dedupe_key:
        existing = set(
            Notification.objects.filter(recipient_id__in=ids, dedupe_key=dedupe_key).values_list(
                "recipient_id", flat=True
            )
        )
    created: list[Notification] = []
    for user_id in ids:
        if user_id in existing:
            continue
        row = Notification(
            recipient_id=user_id,
            kind=kind,
            title=text.title[:200],
            body=text.body,
            message_code=message,
            params=params,
            url=url[:300],
            dedupe_key=dedupe_key,
        )
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:  # a concurrent sender stored the same key first
            continue
        created.append(row)
    if created and email:
        pks = [n.pk for n in created]
        transaction.on_commit(lambda: _enqueue_email(pks))
    return created


@dataclass(frozen=True, slots=True)
class Message:
    """One notice for several people, delivered to each once (``dedupe_key`` is required); ``message`` and
    ``params`` as for ``send``."""

    recipients: tuple[int, ...]
    kind: str
    message: str
    dedupe_key: str
    params: dict[str, Any] = field(default_factory=dict)
    url: str = ""


def send_many(messages: Iterable[Message], *, email: bool = True) -> list[Notification]:
    """``send`` for many messages in three queries whatever their number (clock jobs): the keys already
    delivered, one insert that skips rows a concurrent sender stored first, and the rows now stored."""
    wanted: dict[tuple[int, str], Message] = {}
    for m in messages:
        if not m.dedupe_key:
            raise ValueError("send_many needs a dedupe_key per message")
        for uid in m.recipients:
            wanted.setdefault((uid, m.dedupe_key), m)
    if not wanted:
        return []
    texts = {id(m): render_in(settings.LANGUAGE_CODE, m.message, m.params) for m in wanted.values()}
    keys = sorted({key for _uid, key in wanted})
    existing = set(Notification.objects.filter(dedupe_key__in=keys).values_list("recipient_id", "dedupe_key"))
    rows = [
        Notification(
            recipient_id=uid,
            kind=m.kind,
            title=texts[id(m)].title[:200],
            body=texts[id(m)].body,
            message_code=m.message,
            params=m.params,
            url=m.url[:300],
            dedupe_key=m.dedupe_key,
        )
        for (uid, key), m in wanted.items()
        if (uid, key) not in existing
    ]
    if not rows:
        return []
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    new_keys = sorted({r.dedupe_key for r in rows})
    new_pairs = {(r.recipient_id, r.dedupe_key) for r in rows}
    created = [
        n
        for n in Notification.objects.filter(dedupe_key__in=new_keys).order_by("pk")
        if (n.recipient_id, n.dedupe_key) in new_pairs
    ]
    if created and email:
        pks = [n.pk for n in created]
        transaction.on_commit(lambda: _enqueue_email(pks))
    return created


def _enqueue_email(pks: list[int]) -> None:
    from .tasks import email_notifications

    email_notifications.enqueue(pks)


def users_with_roles(organization_id: int | None, roles: Iterable[str]) -> list[int]:
    """Ids of active users holding any of ``roles`` in the organisation."""
    if organization_id is None:
        return []
    return list(
        Membership.objects.filter(
            organization_id=organization_id, role__in=list(roles), is_active=True, user__is_active=True
        )
        .values_list("user_id", flat=True)
        .distinct()
    )


def unread_count(user_id: int) -> int:
    return Notification.objects.filter(Q(recipient_id=user_id) & Q(read_at__isnull=True)).count()
