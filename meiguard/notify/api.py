from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Router, Schema

from .models import Notification

router = Router(tags=["notifications"])


class NotificationOut(Schema):
    id: int
    kind: str
    message_code: str
    title: str
    body: str
    url: str
    created_at: dt.datetime
    read_at: dt.datetime | None

    # title/body in the request's language (Accept-Language), rendered from message_code + params
    @staticmethod
    def resolve_title(obj: Notification) -> str:
        return obj.display_title

    @staticmethod
    def resolve_body(obj: Notification) -> str:
        return obj.display_body


@router.get("", response=list[NotificationOut], summary="我的通知(最近 100 条)")
def my_notifications(request: HttpRequest, unread: bool = False) -> list[Notification]:
    qs = Notification.objects.filter(recipient_id=request.user.pk)
    if unread:
        qs = qs.filter(read_at__isnull=True)
    return list(qs[:100])
