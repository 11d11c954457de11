"""Every state change of the public side: the published price list (明码标价) and the case QR token.

The current price is clinical's (``clinical.actions.set_price`` checks the role, locks the row and writes
``clinical.procedureprice.saved``); this app adds the dated history row and its own audit entry with the old
and new price, in the same transaction. Cached public pages of the institution are dropped on commit.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from meiguard.audit import log as audit
from meiguard.clinical import actions as clinical
from meiguard.clinical import permissions as clinical_permissions
from meiguard.clinical import queries as clinical_queries
from meiguard.clinical.choices import CaseStatus
from meiguard.clinical.models import ProcedurePrice
from meiguard.core.access import Actor
from meiguard.core.errors import ActionError, FieldErrors

from . import cache as page_cache
from . import tokens
from .models import PriceChange

MAX_PRICE = Decimal("10000000")  # ¥10 million: above any aesthetic procedure, below the column's bound
OPEN_STATUSES = (CaseStatus.OPEN, CaseStatus.IN_OPERATION)


def parse_price(raw: str) -> Decimal:
    text = (raw or "").strip()
    try:
        value = Decimal(text) if text.isascii() and text else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise FieldErrors({"price": [_("请输入数字")]})
    if value < 0 or value >= MAX_PRICE or -value.as_tuple().exponent > 2:  # type: ignore[operator]
        raise FieldErrors({"price": [_("价格须在 0 到 10,000,000 元之间,最多两位小数")]})
    return value


@transaction.atomic
def publish_price(
    actor: Actor, institution_id: int, *, procedure_code: str, price: Decimal
) -> PriceChange | None:
    """Set the published price of a procedure; returns the history row, or None when nothing changed."""
    if price < 0 or price >= MAX_PRICE:
        raise FieldErrors({"price": [_("价格须在 0 到 10,000,000 元之间,最多两位小数")]})
    old = (
        ProcedurePrice.objects.select_for_update()
        .filter(institution_id=institution_id, procedure_code=procedure_code)
        .values_list("price", flat=True)
        .first()
    )
    row = clinical.set_price(actor, institution_id, procedure_code=procedure_code, price=price)
    if old is not None and old == row.price:
        return None
    change = PriceChange.objects.create(
        institution_id=institution_id,
        procedure_code=procedure_code,
        old_price=old,
        new_price=row.price,
        changed_at=row.published_at,
        changed_by_id=actor.user_id,
    )
    audit.record(
        actor,
        "public.pricechange.recorded",
        change,
        changes={
            "procedure_code": procedure_code,
            "price": [None if old is None else str(old), str(row.price)],
        },
    )
    transaction.on_commit(lambda: page_cache.drop_institution(institution_id))
    return change


@transaction.atomic
def issue_case_token(actor: Actor, case_id: int) -> str:
    """A signed, short-lived token for the open case's public verification page (only the case id inside)."""
    case = clinical_queries.case(actor, case_id)  # 404 when foreign
    if not clinical_permissions.can_write(actor, case.institution.organization_id):
        raise ActionError("FORBIDDEN", _("您没有在该机构执行此操作的权限"), status=403)
    if case.status not in OPEN_STATUSES:
        raise ActionError("CASE_NOT_OPEN", _("只有进行中的病例可以生成核验二维码"), status=409)
    token = tokens.make(case.pk)
    audit.record(actor, "public.verifytoken.issued", case, changes={"at": timezone.now().isoformat()})
    return token
