from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class NotifyConfig(AppConfig):
    name = "meiguard.notify"
    verbose_name = _("通知")

    def ready(self) -> None:
        # Every app declares its notification texts in its own notice_texts.py (see notify/messages.py).
        autodiscover_modules("notice_texts")
