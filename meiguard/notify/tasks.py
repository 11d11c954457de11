"""E-mail delivery of notifications (django-tasks). Idempotent: a row is mailed at most once."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone, translation
from django_tasks import task

from .models import Notification


def recipient_language(user: Any) -> str:
    """The recipient's preferred language if the account records one we support, else the site language."""
    preferred = str(getattr(user, "language", "") or "")
    supported = {code for code, _name in settings.LANGUAGES}
    return preferred if preferred in supported else settings.LANGUAGE_CODE


@task()
def email_notifications(notification_ids: list[int]) -> int:
    sent = 0
    for pk in notification_ids:
        with transaction.atomic():
            row = (
                Notification.objects.select_for_update()
                .select_related("recipient")
                .filter(pk=pk, emailed_at__isnull=True)
                .first()
            )
            if row is None or not row.recipient.email:
                continue
            with translation.override(recipient_language(row.recipient)):
                text = row.text
            body = text.body + (f"\n\n{settings.SITE_URL}{row.url}" if row.url else "")
            send_mail(f"[meiguard] {text.title}", body, None, [row.recipient.email])
            row.emailed_at = timezone.now()
            row.save(update_fields=["emailed_at"])
            sent += 1
    return sent
