from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReviewsConfig(AppConfig):
    name = "meiguard.reviews"
    verbose_name = _("定期审查")
