"""What lifecycle tells people: expiry reminders, expired-lot notices, authorization status changes.

``authorization_status_changed`` is public: the review and approval workflows may call it after
``authz.actions.change_status``. It is also called automatically for every audited suspension, reinstatement,
revocation and expiry (``on_audit_entry``, connected in ``apps.py``), and a second call for the same transition
delivers nothing new (the dedupe key names the authorization, the action and the moment of the change).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from meiguard.authz.choices import AuthorizationStatus
from meiguard.authz.models import Authorization
from meiguard.notify.models import Notification, NotificationKind
from meiguard.notify.services import send

from .choices import EXPIRED_NOTICE
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


def _reminder_text(item: ExpiringItem, threshold: int) -> tuple[str, str]:
    facts = {
        "kind": item.kind_label,
        "label": item.label,
        "date": item.expires_on.isoformat(),
        "days": item.days_left,
        "threshold": threshold,
        "holder": item.holder,
    }
    if threshold == EXPIRED_NOTICE:
        title = _("已过期:%(kind)s「%(label)s」已于 %(date)s 过期") % facts
        action = _("过期批次不得使用,核验会拒绝使用该批次;请隔离、退货或报损处理。")
    else:
        title = _("到期提醒:%(kind)s「%(label)s」将于 %(date)s 到期(还剩 %(days)s 天)") % facts
        action = _("请及时办理续期或更新登记,到期后核验将不予通过。")
    lines = [_("持有人:%(holder)s") % facts]
    if item.institution_name:
        lines.append(_("机构:%(name)s") % {"name": item.institution_name})
    if threshold != EXPIRED_NOTICE:
        lines.append(_("提醒档:到期前 %(threshold)s 天") % facts)
    lines.append(action)
    return title, "\n".join(lines)


def send_reminder_notice(item: ExpiringItem, threshold: int, recipients: list[int]) -> list[Notification]:
    """One notification per recipient, at most once per (item, expiry date, threshold)."""
    with translation.override(settings.LANGUAGE_CODE):
        title, body = _reminder_text(item, threshold)
    return send(
        recipients,
        kind=NotificationKind.EXPIRY if threshold == EXPIRED_NOTICE else NotificationKind.REMINDER,
        title=title,
        body=body,
        url=item.url,
        dedupe_key=reminder_key(item.kind, item.object_id, item.expires_on.isoformat(), threshold),
    )


def chase_key(item_kind: str, object_id: int, on: dt.date) -> str:
    return f"lifecycle:{item_kind}:{object_id}:chase:{on.isoformat()}"


def send_chase_notice(item: ExpiringItem, recipients: list[int], on: dt.date) -> list[Notification]:
    """A reminder sent by hand (催办), at most once a day per item."""
    with translation.override(settings.LANGUAGE_CODE):
        title, body = _reminder_text(item, max(item.days_left, 0))
        title = _("催办") + ":" + title
    return send(
        recipients,
        kind=NotificationKind.REMINDER,
        title=title,
        body=body,
        url=item.url,
        dedupe_key=chase_key(item.kind, item.object_id, on),
    )


def _status_text(
    action: str, label: str, holder: str, reason: str, successor: int | None = None
) -> tuple[str, str]:
    facts = {"label": label, "holder": holder, "reason": reason or "—", "successor": successor}
    titles = {
        "suspend": _("授权已暂停:%(label)s"),
        "reinstate": _("授权已恢复:%(label)s"),
        "revoke": _("授权已撤销:%(label)s"),
        "expire": _("授权已到期失效:%(label)s"),
    }
    effects = {
        "suspend": _("自即刻起,核验将拒绝该授权范围内的操作,直至恢复。"),
        "reinstate": _("自即刻起,该授权重新生效,核验恢复允许。"),
        "revoke": _("该授权已终止,核验将拒绝相关操作。"),
        "expire": _("授权期限届满,核验将拒绝相关操作;如需继续执业请办理续期。"),
    }
    effect = str(effects[action])
    if action == "expire" and successor is not None:
        effect = _("已由续期授权 #%(successor)s 接续,核验不受影响。") % facts
    body = "\n".join([_("被授权人:%(holder)s") % facts, _("原因:%(reason)s") % facts, effect])
    return titles[action] % facts, body


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
    label, holder = AUTHORIZATIONS.describe(row)
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
    with translation.override(settings.LANGUAGE_CODE):
        title, body = _status_text(action, label, holder, reason, successor)
    return send(
        recipients,
        kind=NotificationKind.EXPIRY if action == "expire" else NotificationKind.SUSPENSION,
        title=title,
        body=body,
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
