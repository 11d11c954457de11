from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuthzConfig(AppConfig):
    name = "meiguard.authz"
    label = "authz"
    verbose_name = _("授权与核验")

    def ready(self) -> None:
        from . import signals

        signals.connect()
