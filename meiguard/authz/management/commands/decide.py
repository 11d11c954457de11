"""``manage.py decide``: the point-of-care check from the command line (logged with channel "cli").

    manage.py decide --institution 1 --practitioner 2 --procedure derm-botulinum-toxin-injection \\
        --lot 5 --dose 50U --lot 6 --dose 1.5ml --minutes 30 --device 3 --at 2026-03-03T10:00+08:00
    manage.py decide --institution 1 --practitioner 2 --procedure surg-breast-augmentation \
        --anesthetist 7 --anesthesia epidural-iv

Each ``--dose`` / ``--minutes`` belongs to a ``--lot`` given before it (the first such lot that has none
yet), so ``--lot`` and ``--dose`` repeat pairwise. Exit status: 0 allow / allow_with_warnings, 1 deny,
2 bad input or unknown / foreign ids.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from meiguard.authz import actions
from meiguard.authz.choices import DecisionChannel
from meiguard.authz.facts import CHINA_TZ, ProductUse
from meiguard.authz.policy import Outcome
from meiguard.core.access import Actor, build_actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError
from meiguard.core.models import User
from meiguard.registry.choices import DoseUnit
from meiguard.rules.choices import Anesthesia

DOSE_RE = re.compile(r"^\s*(\d{1,6}(?:\.\d{1,3})?)\s*([A-Za-z]+)\s*$")
UNITS = {u.lower(): u for u in DoseUnit.values}
BAD_INPUT = 2
DENIED = 1


def bad_input(message: str) -> CommandError:
    return CommandError(message, returncode=BAD_INPUT)


def parse_dose(text: str) -> tuple[Decimal, str]:
    """``50U`` → (50, "U"); ``1.5ml`` → (1.5, "ml"). Anything else is a CommandError (in Chinese)."""
    match = DOSE_RE.match(text or "")
    unit = UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise bad_input(
            _("剂量格式无效:“%(dose)s”。应为数值加单位,例如 50U 或 1.5ml(单位可选:%(units)s)")
            % {"dose": text, "units": ", ".join(DoseUnit.values)}
        )
    try:
        value = Decimal(match.group(1))
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise bad_input(_("剂量数值无效:“%(dose)s”") % {"dose": text}) from None
    return value, unit


def parse_at(text: str | None) -> dt.datetime | None:
    """ISO 8601; without an offset it is China time; a bare date is noon China time."""
    if not text:
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            return dt.datetime.combine(dt.date.fromisoformat(text.strip()), dt.time(12), tzinfo=CHINA_TZ)
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise bad_input(
            _("时间格式无效:“%(at)s”,应为 ISO 8601,例如 2026-03-03T09:30:00+08:00") % {"at": text}
        ) from None
    if timezone.is_naive(value):
        value = value.replace(tzinfo=CHINA_TZ)
    return value


class _LotAction(argparse.Action):
    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        rows = list(getattr(namespace, "products", None) or [])
        rows.append({"lot": values})
        namespace.products = rows


class _AttachToLot(argparse.Action):
    """``--dose`` / ``--minutes``: the first lot given so far without one."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        rows = list(getattr(namespace, "products", None) or [])
        row = next((r for r in rows if self.dest not in r), None)
        if row is None:
            raise argparse.ArgumentError(
                self, _("%(opt)s 须跟在对应的 --lot 之后") % {"opt": option_string or self.dest}
            )
        row[self.dest] = values
        namespace.products = rows


def _positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(_("应为正整数:%(v)s") % {"v": text})
    return int(text)


def _minutes(text: str) -> int:
    if not text.strip().isdigit() or int(text) > 600:
        raise argparse.ArgumentTypeError(_("分钟数应为 0–600 的整数:%(v)s") % {"v": text})
    return int(text)


class Command(BaseCommand):
    help = "授权核验:该人员能否在该机构开展该项目 / May this practitioner perform this procedure here?"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--institution", type=_positive_int, required=True, help="机构 id")
        parser.add_argument("--practitioner", type=_positive_int, required=True, help="执业人员 id")
        parser.add_argument("--procedure", required=True, help="项目编码,如 derm-botulinum-toxin-injection")
        parser.add_argument(
            "--lot", type=_positive_int, action=_LotAction, dest="products", help="批次 id(可重复)"
        )
        parser.add_argument(
            "--dose", action=_AttachToLot, dest="dose", help="上一个 --lot 的剂量,如 50U、1.5ml"
        )
        parser.add_argument(
            "--minutes",
            type=_minutes,
            action=_AttachToLot,
            dest="minutes",
            help="上一个 --lot 的单部位分钟数",
        )
        parser.add_argument(
            "--device", type=_positive_int, action="append", default=[], help="设备 id(可重复)"
        )
        parser.add_argument("--supervisor", type=_positive_int, help="在场指导的主诊医师 id")
        parser.add_argument("--anesthetist", type=_positive_int, help="实施麻醉的麻醉医师 id")
        parser.add_argument(
            "--anesthesia",
            choices=Anesthesia.values,
            help="麻醉方式(默认按项目目录的最高麻醉方式)",
        )
        parser.add_argument("--at", help="核验时点,ISO 8601(默认现在;无时区按北京时间)")
        parser.add_argument("--as", dest="as_user", help="以该用户身份核验(默认系统身份 cli)")
        parser.add_argument("--json", action="store_true", help="输出 JSON(与 API 的 DecisionOut 相同)")
        parser.add_argument("--lang", choices=["zh-hans", "en"], help="消息语言(默认 zh-hans)")

    def handle(self, *args: Any, **options: Any) -> None:
        with translation.override(options.get("lang") or translation.get_language() or "zh-hans"):
            self._handle(options)

    def _actor(self, username: str | None) -> Actor:
        if not username:
            return Actor.system("cli")
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise bad_input(_("用户不存在或已停用:%(u)s") % {"u": username})
        return build_actor(user)

    def _handle(self, options: dict[str, Any]) -> None:
        products = []
        for row in options.get("products") or []:
            value, unit = parse_dose(row["dose"]) if "dose" in row else (None, None)
            products.append(ProductUse(row["lot"], value, unit, row.get("minutes")))
        procedure = (options["procedure"] or "").strip()
        if not procedure or len(procedure) > 64:
            raise bad_input(_("项目编码应为 1–64 个字符"))
        actor = self._actor(options.get("as_user"))
        try:
            req = actions.as_request(
                institution_id=options["institution"],
                practitioner_id=options["practitioner"],
                procedure_code=procedure,
                at=parse_at(options.get("at")),
                products=tuple(products),
                device_ids=tuple(options.get("device") or ()),
                supervisor_id=options.get("supervisor"),
                anesthetist_id=options.get("anesthetist"),
                anesthesia=options.get("anesthesia"),
            )
            checked = actions.check(actor, req, channel=DecisionChannel.CLI)
        except (NotFoundField, ActionError) as exc:
            raise bad_input(actions.error_message(exc)) from None
        except Http404:
            raise bad_input(_("对象不存在或无权访问")) from None
        decision, row = checked.decision, checked.log
        if options.get("json"):
            body = {
                "id": row.pk,
                "outcome": str(decision.outcome),
                "allowed": decision.allowed,
                "institution_id": row.institution_id,
                "practitioner_id": row.practitioner_id,
                "procedure_code": row.procedure_code,
                "at": row.at.isoformat(),
                "rule_pack": row.rule_pack,
                "reasons": actions.reasons_out(decision),
            }
            self.stdout.write(json.dumps(body, ensure_ascii=False, indent=2))
        else:
            self._print(decision, row)
        if not decision.allowed:
            raise SystemExit(DENIED)

    def _print(self, decision: Any, row: Any) -> None:
        labels = {
            Outcome.ALLOW: _("允许"),
            Outcome.ALLOW_WITH_WARNINGS: _("允许(有警示)"),
            Outcome.DENY: _("不允许"),
        }
        style = {
            Outcome.ALLOW: self.style.SUCCESS,
            Outcome.ALLOW_WITH_WARNINGS: self.style.WARNING,
            Outcome.DENY: self.style.ERROR,
        }[decision.outcome]
        self.stdout.write(style(f"{labels[decision.outcome]} ({decision.outcome})"))
        self.stdout.write(
            _("核验记录 #%(id)s · 规则包 %(pack)s · %(at)s")
            % {"id": row.pk, "pack": row.rule_pack, "at": row.at.isoformat()}
        )
        for reason in actions.reasons_out(decision):
            rule = reason["rule"]
            self.stdout.write(f"- [{reason['severity']}] {reason['code']}: {reason['message']}")
            self.stdout.write(f"    {rule['pack']} v{rule['version']} {rule['rule_id']} ({rule['source']})")
