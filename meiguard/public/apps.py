from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PublicConfig(AppConfig):
    name = "meiguard.public"
    verbose_name = _("公众查询与验真")

    def ready(self) -> None:
        from . import permissions  # noqa: F401  (registers the permission checks)
