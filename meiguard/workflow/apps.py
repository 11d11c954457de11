from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkflowConfig(AppConfig):
    name = "meiguard.workflow"
    verbose_name = _("授权申请与审批")
