"""Demo rows for the rule-change impact report: a draft national revision and the checks it would change.

On top of the base demo world: a draft ``cn-national`` version (the next number) that lowers the botulinum
toxin limit to 150 U per session, allows 50 minutes per filler injection site (was 40) and regrades 隆鼻术 to
grade 3 — and three recent checks by 王芳 at 雅美门诊部 (衡力 180 U and 100 U, 润百颜 45 minutes). Its impact
page (/rules/versions/<id>/impact/) then shows 李明's 隆鼻术 authorization and the 180 U request going from
allowed to denied, and the 45-minute filler request from denied to allowed.

Idempotent: the draft is loaded through ``actions.load_pack`` (same content → no-op) only while no national
version above 1 exists, and the checks are logged once (marked by the actor name ``demo-rules-impact``).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from meiguard.authz import actions as authz
from meiguard.authz.choices import DecisionChannel
from meiguard.authz.facts import ProductUse
from meiguard.authz.models import DecisionLog
from meiguard.core.access import Actor
from meiguard.registry.models import Institution, Lot, Practitioner

from . import actions
from .models import RulePackVersion

YAMEI = "长沙雅美医疗美容门诊部"
MARKER = "demo-rules-impact"
DESCRIPTION = (
    "演示用修订草案(非正式文件):A型肉毒毒素单次注射上限由 200U 降至 150U;"
    "透明质酸单部位操作时长由 40 分钟放宽至 50 分钟;隆鼻术由一级调整为三级。"
)


def _draft_dir(root: Path, version: int, effective_from: dt.date) -> Path:
    source = Path(settings.RULE_PACK_DIR) / "cn-national"
    target = root / "cn-national"
    shutil.copytree(source, target)
    pack = target / "pack.yaml"
    text = pack.read_text(encoding="utf-8")
    text = text.replace("version: 1", f"version: {version}", 1)
    text = re.sub(r"effective_from: \S+", f"effective_from: {effective_from.isoformat()}", text, count=1)
    text = re.sub(r"  description: >-\n(    .*\n)+", f"  description: {DESCRIPTION}\n", text, count=1)
    text = text.replace("max_value: 200", "max_value: 150", 1).replace("max_value: 40", "max_value: 50", 1)
    pack.write_text(text, encoding="utf-8")
    catalog = target / "procedure_catalog.csv"
    rows = catalog.read_text(encoding="utf-8")
    rows = rows.replace(
        ",隆鼻术,Augmentation rhinoplasty,1,surgical,local,",
        ",隆鼻术,Augmentation rhinoplasty,3,surgical,epidural-iv,",
        1,
    )
    catalog.write_text(rows, encoding="utf-8")
    return target


def _draft(actor: Actor, today: dt.date) -> RulePackVersion | None:
    existing = (
        RulePackVersion.objects.filter(pack__code="cn-national", version__gt=1).order_by("-version").first()
    )
    if existing is not None:
        return existing
    with tempfile.TemporaryDirectory() as tmp:
        path = _draft_dir(Path(tmp), 2, dt.date(today.year + 1, 1, 1))
        return actions.load_pack(actor, path).version


def _checks(yamei: Institution) -> int:
    if DecisionLog.objects.filter(actor_label=MARKER).exists():
        return 0
    wangfang = Practitioner.objects.filter(name="王芳", main_institution=yamei).first()
    toxin = Lot.objects.filter(institution=yamei, lot_no="HL20260315").first()
    filler = Lot.objects.filter(institution=yamei, lot_no="RBY20261102").first()
    if wangfang is None or toxin is None or filler is None:
        return 0
    actor = Actor.system(MARKER)
    now = timezone.now()
    asked = [
        ("derm-botulinum-toxin-injection", ProductUse(toxin.pk, Decimal(180), "U"), 3),
        ("derm-botulinum-toxin-injection", ProductUse(toxin.pk, Decimal(100), "U"), 5),
        ("derm-filler-injection", ProductUse(filler.pk, Decimal(1), "ml", minutes=45), 7),
    ]
    for code, use, days_ago in asked:
        req = authz.as_request(
            institution_id=yamei.pk,
            practitioner_id=wangfang.pk,
            procedure_code=code,
            products=(use,),
            at=now - dt.timedelta(days=days_ago),
        )
        authz.check(actor, req, channel=DecisionChannel.UI)
    return len(asked)


def seed(stdout: Any) -> None:
    actor = Actor.system("seed_demo")
    today = timezone.localdate()
    yamei = Institution.objects.filter(name=YAMEI).first()
    if yamei is None or not RulePackVersion.objects.filter(pack__code="cn-national").exists():
        stdout.write(
            "规则影响演示数据:缺少基础演示数据,已跳过 / rules impact demo: base world missing, skipped\n"
        )
        return
    draft = _draft(actor, today)
    logged = _checks(yamei)
    if draft is not None:
        stdout.write(
            f"规则变更影响评估:{draft}({draft.get_status_display()})→ /rules/versions/{draft.pk}/impact/"
            f";新增核验记录 {logged} 条\n"
        )
