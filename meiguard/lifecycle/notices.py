"""What lifecycle tells people: expiry reminders, expired-lot notices, authorization status changes.

``authorization_status_changed`` is public: the review and approval workflows may call it after
``authz.actions.change_status``. It is also called automatically for every audited suspension, reinstatement,
revocation and expiry (``on_audit_entry``, connected in ``apps.py``), and a second call for the same transition
delivers nothing new (the dedupe key names the authorization, the action and the moment of the change).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse

from meiguard.authz.choices import AuthorizationStatus
from meiguard.authz.models import Authorization
from meiguard.notify import messages as notify_text
from meiguard.notify.models import Notification, NotificationKind
from meiguard.notify.services import send

from .choices import EXPIRED_NOTICE, ItemKind
from .queries import AUTHORIZATIONS, ExpiringItem, authorization_recipients

STATUS_ACTIONS = ("suspend", "reinstate", "revoke", "expire")
# audit code of the authz transition -> the action named in notices
AUDIT_ACTIONS = {
    "authz.authorization.suspended": "suspend",
    "authz.authorization.reinstated": "reinstate",
    "authz.authorization.revoked": "revoke",
    "authz.authorization.expired": "expire",
}


def reminder_key(item_kind: str, object_id: int, expires_on: str, threshold: int) -> str:
    return f"lifecycle:{item_kind}:{object_id}:{expires_on}:{threshold}"


def _reminder_message(item: ExpiringItem, threshold: int) -> tuple[str, dict[str, Any]]:
    """Message code and parameters of a reminder; the text is rendered in each reader's language."""
    params: dict[str, Any] = {
        "kind": notify_text.label(ItemKind(item.kind).label),
        "label": item.label,
        "date": item.expires_on.isoformat(),
        "days": item.days_left,
    }
    lines = [notify_text.fragment("lifecycle.line.holder", holder=item.holder)]
    if item.institution_name:
        lines.append(notify_text.fragment("lifecycle.line.institution", name=item.institution_name))
    if threshold == EXPIRED_NOTICE:
        message = "lifecycle.expired"
        lines.append(notify_text.fragment("lifecycle.line.expired_action"))
    else:
        message = "lifecycle.reminder"
        lines.append(notify_text.fragment("lifecycle.line.threshold", threshold=threshold))
        lines.append(notify_text.fragment("lifecycle.line.renew_action"))
    params["lines"] = lines
    return message, params


def send_reminder_notice(item: ExpiringItem, threshold: int, recipients: list[int]) -> list[Notification]:
    """One notification per recipient, at most once per (item, expiry date, threshold)."""
    message, params = _reminder_message(item, threshold)
    return send(
        recipients,
        kind=NotificationKind.EXPIRY if threshold == EXPIRED_NOTICE else NotificationKind.REMINDER,
        message=message,
        params=params,
        url=item.url,
        dedupe_key=reminder_key(item.kind, item.object_id, item.expires_on.isoformat(), threshold),
    )


def chase_key(item_kind: str, object_id: int, on: dt.date) -> str:
    return f"lifecycle:{item_kind}:{object_id}:chase:{on.isoformat()}"


def send_chase_notice(item: ExpiringItem, recipients: list[int], on: dt.date) -> list[Notification]:
    """A reminder sent by hand (催办), at most once a day per item."""
    message, params = _reminder_message(item, max(item.days_left, 0))
    title = notify_text.fragment(message, **{k: v for k, v in params.items() if k != "lines"})
    return send(
        recipients,
        kind=NotificationKind.REMINDER,
        message="lifecycle.chase",
        params={"title": title, "lines": params["lines"]},
        url=item.url,
        dedupe_key=chase_key(item.kind, item.object_id, on),
    )


def _status_lines(action: str, holder: str, reason: str, successor: int | None) -> list[dict[str, Any]]:
    effect = notify_text.fragment(f"lifecycle.effect.{action}")
    if action == "expire" and successor is not None:
        effect = notify_text.fragment("lifecycle.effect.renewed", successor=successor)
    return [
        notify_text.fragment("lifecycle.line.grantee", holder=holder),
        notify_text.fragment("lifecycle.line.reason", reason=reason or "—"),
        effect,
    ]


def authorization_status_changed(auth: Authorization, action: str, reason: str = "") -> list[Notification]:
    """Notify the authorized person and the compliance staff that ``auth`` was suspended, reinstated, revoked
    or expired. Call it inside the transaction of the change (e-mail goes out after commit); idempotent."""
    if action not in STATUS_ACTIONS:
        raise ValueError(f"unknown authorization action {action!r}")
    row: dict[str, Any] | None = (
        Authorization.objects.filter(pk=auth.pk).values(*AUTHORIZATIONS.fields, "updated_at").first()
    )
    if row is None:
        return []
    holder = AUTHORIZATIONS.describe(row)[1]
    recipients = authorization_recipients(
        practitioner_user_id=row["practitioner__user_id"],
        organization_id=row["institution__organization_id"],
        grantee_organization_id=row["grantee_institution__organization_id"],
    )
    successor = None
    if action == "expire":  # a renewal already in force takes over: say so rather than alarm anyone
        successor = (
            Authorization.objects.filter(renews_id=auth.pk, status=AuthorizationStatus.ACTIVE)
            .values_list("pk", flat=True)
            .first()
        )
    return send(
        recipients,
        kind=NotificationKind.EXPIRY if action == "expire" else NotificationKind.SUSPENSION,
        message=f"lifecycle.authz.{action}",
        params={
            "label": notify_text.each_language(lambda: AUTHORIZATIONS.describe(row)[0]),
            "lines": _status_lines(action, holder, reason, successor),
        },
        url=reverse("authz:authorization_detail", args=[auth.pk]),
        dedupe_key=f"lifecycle:authz:{auth.pk}:{action}:{row['updated_at'].isoformat()}",
    )


def on_audit_entry(sender: type, instance: Any, created: bool = False, **kwargs: Any) -> None:
    """post_save of audit entries: an authz status transition notifies its people (same transaction)."""
    if not created:
        return
    action = AUDIT_ACTIONS.get(instance.action)
    if action is None or instance.object_type != "authz.authorization":
        return
    auth = Authorization.objects.filter(pk=int(instance.object_id)).first()
    if auth is not None:
        authorization_status_changed(auth, action, instance.reason)
