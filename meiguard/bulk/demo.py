"""Demo rows for bulk import, on top of ``seed_demo``'s world: 王院长 (wang) has imported two new staff of
雅美门诊部 with their credentials and a draft authorization from an Excel file, and has dry-run a second file
with mistakes, so /bulk/ shows a history, a preview and an error table. Idempotent (keyed on the file name).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from meiguard.core.access import build_actor
from meiguard.core.models import User
from meiguard.demo.codes import id_number
from meiguard.registry.models import Institution

from . import actions
from .models import ImportRun
from .specs import SHEETS_BY_KIND
from .workbook import build

GOOD_FILE = "演示-雅美新入职人员.xlsx"
BAD_FILE = "演示-有错误的人员表.xlsx"
INSTITUTION = "长沙雅美医疗美容门诊部"


def _good_rows(code: str, today: dt.date) -> dict[str, list[dict[str, Any]]]:
    nurse, consultant = id_number(3101), id_number(3102)
    return {
        "practitioners": [
            {
                "institution": code,
                "name": "刘婷",
                "id_number": nurse,
                "profession": "nurse",
                "licence_no": "N2018043011",
                "practice_category": "nursing",
                "practice_scope": "护理",
                "title": "nurse_practitioner",
                "practising_since": dt.date(2018, 7, 1),
            },
            {
                "institution": code,
                "name": "何佳",
                "id_number": consultant,
                "profession": "consultant",
                "title": "none",
                "practising_since": today.replace(day=1),
            },
        ],
        "qualifications": [
            {
                "practitioner": nurse,
                "practitioner_name": "刘婷",
                "kind": "nurse_registration",
                "number": "HN-2018-04301",
                "issuer": "湖南省卫生健康委员会",
                "valid_from": dt.date(2023, 7, 1),
                "valid_until": dt.date(2028, 6, 30),
            },
            {
                "practitioner": nurse,
                "practitioner_name": "刘婷",
                "kind": "nurse_training_hours",
                "hours": Decimal("168.0"),
                "year": today.year - 1,
            },
        ],
        "authorizations": [
            {
                "institution": code,
                "kind": "device",
                "practitioner": nurse,
                "practitioner_name": "刘婷",
                "device_model": "热玛吉-FLX",
                "valid_from": today,
                "valid_until": today + dt.timedelta(days=365),
                "status": "draft",
            }
        ],
    }


def _wrong_check_digit(number: str) -> str:
    return number[:-1] + ("0" if number[-1] != "0" else "1")


def _bad_rows(code: str) -> dict[str, list[dict[str, Any]]]:
    return {
        "practitioners": [
            {
                "institution": code,
                "name": "唐敏",
                "id_number": _wrong_check_digit(id_number(3103)),
                "profession": "nurse",
                "licence_no": "N2020043012",
                "practice_category": "nursing",
                "title": "nurse",
            },
            {
                "institution": code,
                "name": "邓医生",
                "id_number": id_number(3104),
                "profession": "doctor",
                "title": "attending",
                "practising_since": dt.date(2016, 9, 1),
            },
        ]
    }


def seed(stdout: Any) -> None:
    if ImportRun.objects.filter(file_name=GOOD_FILE).exists():
        return
    wang = User.objects.filter(username="wang").first()
    institution = Institution.objects.filter(name=INSTITUTION).first()
    if wang is None or institution is None:  # the base world is not loaded
        return
    actor = build_actor(wang)
    today = timezone.localdate()
    good = build(SHEETS_BY_KIND["full"], _good_rows(institution.credit_code, today))
    run = actions.import_file(actor, kind="full", file_name=GOOD_FILE, content=good)
    bad = build(SHEETS_BY_KIND["practitioners"], _bad_rows(institution.credit_code))
    dry = actions.dry_run(actor, kind="practitioners", file_name=BAD_FILE, content=bad)
    stdout.write(
        f"批量导入演示 / bulk import demo: run #{run.pk} {run.status}, dry run #{dry.pk} {dry.status}\n"
    )
