from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClinicalConfig(AppConfig):
    name = "meiguard.clinical"
    verbose_name = _("诊疗病例")
