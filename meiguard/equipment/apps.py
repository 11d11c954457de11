from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EquipmentConfig(AppConfig):
    name = "meiguard.equipment"
    verbose_name = _("设备档案")
