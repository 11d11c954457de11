"""Demo rows for the three rule layers and the rule-change impact report.

On top of the base demo world:

* every demo institution adopts the institution template as its own policy (本机构规范 v1, effective today);
* 雅美门诊部 has a **draft policy v2** that lowers the botulinum toxin limit to 150 U per session and allows 50
  minutes per filler injection site (was 40) — and three recent checks by 王芳 there (衡力 180 U and 100 U,
  润百颜 45 minutes). Its impact page shows the 180 U request going from allowed to denied and the 45-minute
  filler request from denied to allowed, at 雅美 only;
* a **draft national version** (the next number) that regrades 隆鼻术 to grade 3: its impact page shows 李明's
  隆鼻术 authorization going from allowed to denied.

Idempotent: drafts are created only while none exists, and the checks are logged once (marked by the actor
name ``demo-rules-impact``).
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
from meiguard.core.access import DEMO_ACTOR, Actor
from meiguard.registry.models import Institution, Lot, Practitioner

from . import actions, institution
from .models import RulePackVersion

YAMEI = "长沙雅美医疗美容门诊部"
MARKER = "demo-rules-impact"
DESCRIPTION = "演示用修订草案(非正式文件):隆鼻术由一级调整为三级。"
POLICY_DOCUMENT = "雅美门诊部医疗美容服务规范(2027年修订草案)"


def _draft_dir(root: Path, version: int, effective_from: dt.date) -> Path:
    source = Path(settings.RULE_PACK_DIR) / "cn-national"
    target = root / "cn-national"
    shutil.copytree(source, target)
    pack = target / "pack.yaml"
    text = pack.read_text(encoding="utf-8")
    text = text.replace("version: 1", f"version: {version}", 1)
    text = re.sub(r"effective_from: \S+", f"effective_from: {effective_from.isoformat()}", text, count=1)
    text = re.sub(r"  description: >-\n(    .*\n)+", f"  description: {DESCRIPTION}\n", text, count=1)
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


def _policies(actor: Actor, today: dt.date, yamei: Institution) -> RulePackVersion | None:
    """Each demo institution adopts the template; 雅美 drafts a stricter toxin and a looser filler value."""
    for inst in Institution.objects.order_by("pk"):
        institution.adopt_template(actor, inst.pk, effective_from=today)
    versions = institution.versions(yamei.pk)
    if versions and not versions[0].is_published:
        return versions[0]
    if len(versions) > 1:
        return versions[0]
    return institution.save_draft(
        actor,
        yamei.pk,
        values={"botulinum_units_per_session": "150", "filler_minutes_per_site": "50"},
        document=POLICY_DOCUMENT,
        effective_from=today + dt.timedelta(days=30),
    )


def seed(stdout: Any) -> None:
    actor = Actor.system(DEMO_ACTOR)
    today = timezone.localdate()
    yamei = Institution.objects.filter(name=YAMEI).first()
    if yamei is None or not RulePackVersion.objects.filter(pack__code="cn-national").exists():
        stdout.write(
            "规则影响演示数据:缺少基础演示数据,已跳过 / rules impact demo: base world missing, skipped\n"
        )
        return
    policy = _policies(actor, today, yamei)
    draft = _draft(actor, today)
    logged = _checks(yamei)
    for version in (policy, draft):
        if version is not None:
            stdout.write(
                f"规则变更影响评估:{version.pack.name} v{version.version}({version.get_status_display()})"
                f"→ /rules/versions/{version.pk}/impact/\n"
            )
    stdout.write(f"新增核验记录 {logged} 条 / checks logged: {logged}\n")
