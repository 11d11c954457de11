from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BulkConfig(AppConfig):
    name = "meiguard.bulk"
    verbose_name = _("批量导入导出")
