from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LifecycleConfig(AppConfig):
    name = "meiguard.lifecycle"
    verbose_name = _("到期提醒与定时任务")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from meiguard.audit.models import AuditEntry

        from .notices import on_audit_entry

        # Every audited suspension, reinstatement, revocation or expiry of an authorization notifies its people,
        # whichever path made it (authz pages and API, reviews, approvals, the expiry job).
        post_save.connect(on_audit_entry, sender=AuditEntry, dispatch_uid="lifecycle-authz-status-notices")
