"""演示数据 for the public side, on top of the clinical demo (issue 15).

At 长沙雅美医疗美容门诊部 the published prices exist already (clinical demo); here 赵专员 (授权专员) adjusts
the filler injection price once through ``publish_price``, so the public page shows a dated price history.
刘女士's case there is open (consultation step): on its case page the 求美者核验二维码 button produces a
token. Idempotent: the change is made only when the institution has no price history yet.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from meiguard.clinical.demo import FILLER, YAMEI
from meiguard.clinical.models import ProcedurePrice
from meiguard.core.access import build_actor
from meiguard.core.models import User
from meiguard.registry.models import Institution

from . import actions
from .models import PriceChange


def seed(stdout: Any) -> None:
    yamei = Institution.objects.filter(name=YAMEI).first()
    zhao = User.objects.filter(username="zhao").first()
    if yamei is None or zhao is None:
        stdout.write("公众查询演示数据:缺少基础演示数据,已跳过 / public demo: base world missing, skipped\n")
        return
    if PriceChange.objects.filter(institution=yamei).exists():
        return
    actor = build_actor(zhao)
    if not ProcedurePrice.objects.filter(institution=yamei, procedure_code=FILLER).exists():
        return  # the clinical demo did not run: nothing to adjust
    actions.publish_price(actor, yamei.pk, procedure_code=FILLER, price=Decimal("5600"))
    stdout.write(
        "公众查询演示数据已就绪 / public demo ready: /p/ (机构名录、医生查询、产品验真);"
        "雅美门诊部 刘女士的病例页可生成求美者核验二维码\n"
    )
