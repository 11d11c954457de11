from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "meiguard.core"
    label = "core"
    verbose_name = _("组织与用户")

    def ready(self) -> None:
        from . import (
            checks,  # noqa: F401  (registers the system checks)
            mfa,  # noqa: F401  (connects the sign-in receiver that decides the second step)
        )
