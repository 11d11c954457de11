from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LifecycleConfig(AppConfig):
    name = "meiguard.lifecycle"
    verbose_name = _("到期提醒与定时任务")
