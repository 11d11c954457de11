from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    name = "meiguard.compliance"
    verbose_name = _("月度合规报告")
