from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "meiguard.core"
    label = "core"
    verbose_name = _("组织与用户")

    def ready(self) -> None:
        from importlib import import_module

        from django.apps import apps
        from django.utils.module_loading import module_has_submodule

        from . import (
            checks,  # noqa: F401  (registers the system checks)
            mfa,  # noqa: F401  (connects the sign-in receiver that decides the second step)
        )

        # Each app declares what its users may see and press in its own permissions.py (core/permissions.py).
        for config in apps.get_app_configs():
            if config.name.startswith("meiguard.") and module_has_submodule(config.module, "permissions"):
                import_module(f"{config.name}.permissions")
