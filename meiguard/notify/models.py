"""In-app notifications (站内通知); each may also be e-mailed once."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from .messages import Text, render_or


class NotificationKind(models.TextChoices):
    APPLICATION = "application", _("授权申请")
    APPROVAL = "approval", _("待审批")
    REMINDER = "reminder", _("到期提醒")
    EXPIRY = "expiry", _("到期失效")
    SUSPENSION = "suspension", _("暂停/恢复")
    REVIEW = "review", _("定期审查")
    RULES = "rules", _("规则变更")
    IMPORT = "import", _("批量导入")
    REGISTRATION = "registration", _("多点执业申请")
    AFTERCARE = "aftercare", _("随访与不良反应")
    INVENTORY = "inventory", _("库存与追溯")
    COMPLAINT = "complaint", _("投诉")


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("接收人"),
    )
    kind = models.CharField(_("类别"), max_length=16, choices=NotificationKind.choices)
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    # What to say, rendered in the reader's language when shown (notify/messages.py); title/body above keep
    # the text in the site language at send time: the fallback, and all that rows older than codes have.
    message_code = models.CharField(_("消息代码"), max_length=80, blank=True)
    params = models.JSONField(_("消息参数"), default=dict, blank=True)
    url = models.CharField(_("链接"), max_length=300, blank=True)
    # Same key to the same person is stored once: reminders and retried jobs never repeat themselves.
    dedupe_key = models.CharField(_("去重键"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("邮件发送时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notify_unread_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"],
                condition=~Q(dedupe_key=""),
                name="notify_once_per_key",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def text(self) -> Text:
        """Title and body in the active language (cached per language on the instance)."""
        lang = translation.get_language() or ""
        cache: dict[str, Text] = self.__dict__.setdefault("_texts", {})
        if lang not in cache:
            cache[lang] = render_or(self.message_code, self.params, Text(self.title, self.body))
        return cache[lang]

    @property
    def display_title(self) -> str:
        return self.text.title

    @property
    def display_body(self) -> str:
        return self.text.body
