"""Audit action codes owned by this app (merged into audit.codes.ACTION_CODES)."""

from typing import Any

from django.utils.translation import gettext_lazy as _

CODES: dict[str, Any] = {
    "public.pricechange.recorded": _("公示价格变更"),
    "public.verifytoken.issued": _("生成求美者核验二维码"),
}
