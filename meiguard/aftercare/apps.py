from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AftercareConfig(AppConfig):
    name = "meiguard.aftercare"
    verbose_name = _("术后随访与不良反应")

    def ready(self) -> None:
        # The explicit hook: clinical calls what is registered when a record closes (no signal, no import of
        # aftercare from clinical); the plan is created inside close_record's transaction.
        from meiguard.clinical import hooks

        from . import actions

        hooks.register_record_closed(actions.plan_on_close)
