"""Complaints and reports from the public (issue 15 part 3): the form's vocabulary and validation, the challenge
shown after repeated submissions from one address, and the hand-over to ``complaints.actions.receive_public``.

- **Kinds** and how they map onto the complaints app: a complaint (投诉) takes the category the person picks
  (service, price, outcome, privacy, advertising, other); an adverse-reaction report is the category 不良反应;
  suspected unlicensed practice and counterfeit products are 其他, with the kind written on the first line of
  the description so the institution's officers see what it is.
- **An institution is required** for every kind: ``receive_public`` files a complaint into one institution's
  workflow and there is no institution-less complaint. Suspected unlicensed practice *at or around* a listed
  institution (a person practising there without registration, a "studio" in its premises) is filed there,
  with an optional free-text place/name; a provider that is not attached to any listed institution is for the
  local health inspectorate (卫生健康监督机构, 12345 hotline) — the form says so.
- **The challenge**: from the ``PUBLIC_COMPLAINT_CHALLENGE_AFTER``-th + 1 submission (default: the 3rd) from one
  client address within an hour, the form carries a small sum signed with ``TimestampSigner`` (salt
  ``meiguard.public.complaint-challenge``, valid 10 minutes, single use). No external service.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from meiguard.complaints import actions as complaint_actions
from meiguard.complaints.choices import Category
from meiguard.complaints.models import Complaint
from meiguard.core.schemas import control_character_error
from meiguard.registry.models import Institution

PHONE = re.compile(r"1[3-9][0-9]{9}")
CHALLENGE_SALT = "meiguard.public.complaint-challenge"
CHALLENGE_MAX_AGE = 600  # seconds a challenge stays valid
SUBMISSION_WINDOW = 3600  # seconds: submissions from one address are counted per hour
MAX_DESCRIPTION = 2000
MAX_PLACE = 200
MAX_NAME = 32
RELATED_DATE_MAX_YEARS = 3


class Kind(models.TextChoices):
    COMPLAINT = "complaint", gettext_lazy("一般投诉")
    ADVERSE = "adverse", gettext_lazy("不良反应报告")
    UNLICENSED = "unlicensed", gettext_lazy("疑似非法行医")
    COUNTERFEIT = "counterfeit", gettext_lazy("疑似假冒产品")


# What a complaint (kind "complaint") may be about: the complaints app's categories except 不良反应 (its own kind).
COMPLAINT_CATEGORIES = (
    Category.SERVICE,
    Category.PRICE,
    Category.OUTCOME,
    Category.PRIVACY,
    Category.ADVERTISING,
    Category.OTHER,
)
KIND_CATEGORY = {
    Kind.ADVERSE: Category.ADVERSE,
    Kind.UNLICENSED: Category.OTHER,
    Kind.COUNTERFEIT: Category.OTHER,
}


@dataclass
class Submission:
    kind: str
    category: str
    institution_id: int
    description: str
    name: str
    phone: str
    place: str
    related_on: dt.date | None


def _text(
    raw: str, field: str, limit: int, errors: dict[str, list[str]], *, required: bool, multiline: bool
) -> str:
    value = (raw or "").strip()
    if required and not value:
        errors.setdefault(field, []).append(_("此字段为必填项"))
    elif len(value) > limit:
        errors.setdefault(field, []).append(_("长度不能超过 %(n)s") % {"n": limit})
    elif problem := control_character_error(value, multiline=multiline):
        errors.setdefault(field, []).append(problem)
    return value


def clean(data: dict[str, str], *, today: dt.date | None = None) -> Submission:
    """Validate the posted form; ``FieldErrors`` names every bad field with a precise message."""
    from meiguard.core.errors import FieldErrors

    errors: dict[str, list[str]] = {}
    today = today or timezone.localdate()
    kind = data.get("kind", "")
    if kind not in Kind.values:
        errors.setdefault("kind", []).append(_("请选择类型"))
    category = ""
    if kind == Kind.COMPLAINT:
        category = data.get("category", "")
        if category not in COMPLAINT_CATEGORIES:
            errors.setdefault("category", []).append(_("请选择投诉事项"))
    elif kind in KIND_CATEGORY:
        category = KIND_CATEGORY[Kind(kind)]
    raw_inst = (data.get("institution") or "").strip()
    institution_id = int(raw_inst) if raw_inst.isdigit() and len(raw_inst) < 12 else 0
    if not raw_inst:
        errors.setdefault("institution", []).append(_("请选择机构"))
    elif not institution_id or not Institution.objects.filter(pk=institution_id).exists():
        errors.setdefault("institution", []).append(_("机构不存在,请从列表中选择"))
    description = _text(
        data.get("description", ""), "description", MAX_DESCRIPTION, errors, required=True, multiline=True
    )
    if description and "description" not in errors and len(description) < 10:
        errors.setdefault("description", []).append(_("请至少用 10 个字说明经过"))
    name = _text(data.get("name", ""), "name", MAX_NAME, errors, required=True, multiline=False)
    phone = re.sub(r"[\s-]", "", data.get("phone", ""))
    if not phone:
        errors.setdefault("phone", []).append(_("此字段为必填项"))
    elif not PHONE.fullmatch(phone):
        errors.setdefault("phone", []).append(_("请输入 11 位手机号码(1 开头)"))
    place = _text(data.get("place", ""), "place", MAX_PLACE, errors, required=False, multiline=False)
    related_on = None
    raw_date = (data.get("related_on") or "").strip()
    if raw_date:
        try:
            related_on = dt.date.fromisoformat(raw_date) if len(raw_date) == 10 else None
        except ValueError:
            related_on = None
        if related_on is None:
            errors.setdefault("related_on", []).append(_("日期格式应为 YYYY-MM-DD"))
        elif related_on > today:
            errors.setdefault("related_on", []).append(_("日期不能晚于今天"))
        elif related_on < today.replace(year=today.year - RELATED_DATE_MAX_YEARS, day=min(today.day, 28)):
            errors.setdefault("related_on", []).append(
                _("日期不能早于 %(n)s 年前") % {"n": RELATED_DATE_MAX_YEARS}
            )
    if errors:
        raise FieldErrors(errors)
    return Submission(kind, category, institution_id, description, name, phone, place, related_on)


def _description(s: Submission) -> str:
    """The text the institution's officers read: the kind, the place and the date on top, then the account.
    Stored in Chinese (as notification texts are)."""
    head = [f"【公众投诉页面 · {Kind(s.kind).label}】"]
    if s.place:
        head.append(f"地点/名称:{s.place}")
    if s.related_on:
        head.append(f"相关日期:{s.related_on.isoformat()}")
    return "\n".join(head) + "\n\n" + s.description


def submit(s: Submission) -> Complaint:
    """File the submission into the institution's complaint workflow (its officers are notified there)."""
    from django.utils import translation

    with translation.override("zh-hans"):
        description = _description(s)
    return complaint_actions.receive_public(
        institution_id=s.institution_id,
        category=s.category,
        complainant_name=s.name,
        complainant_contact=s.phone,
        description=description,
    )


DONE_SALT = "meiguard.public.complaint-done"
DONE_MAX_AGE = 3600  # seconds the tracking-number page's link works


def done_token(tracking_no: str) -> str:
    """The signed link of the tracking-number page (the tracking number only: nothing personal)."""
    return signing.TimestampSigner(salt=DONE_SALT).sign_object({"t": tracking_no})


def read_done_token(token: str) -> tuple[str, str] | None:
    """(tracking number, institution name), or None for an expired, tampered or unknown link."""
    try:
        value = signing.TimestampSigner(salt=DONE_SALT).unsign_object(token[:256], max_age=DONE_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired included
        return None
    if not isinstance(value, dict) or not isinstance(value.get("t"), str):
        return None
    name = (
        Complaint.objects.filter(tracking_no=value["t"]).values_list("institution__name", flat=True).first()
    )
    return None if name is None else (value["t"], name)


# ---- anti-abuse: count submissions per address, challenge from the third --------------------------


def _count_key(client: str) -> str:
    return f"pubc:subs:{client}"


def submissions(client: str) -> int:
    return int(cache.get(_count_key(client), 0))


def count_submission(client: str) -> None:
    """One more submission from ``client`` within the hour (the hour starts with the first)."""
    key = _count_key(client)
    cache.add(key, 0, timeout=SUBMISSION_WINDOW)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=SUBMISSION_WINDOW)


def needs_challenge(client: str) -> bool:
    return submissions(client) >= settings.PUBLIC_COMPLAINT_CHALLENGE_AFTER


def new_challenge() -> tuple[str, str]:
    """(question, signed token). The sum travels in the signed token (readable but not forgeable: the point
    is a human step, not secrecy), with a nonce so that a solved challenge is used once."""
    a, b = secrets.randbelow(9) + 1, secrets.randbelow(9) + 1
    token = signing.TimestampSigner(salt=CHALLENGE_SALT).sign_object({"s": a + b, "n": secrets.token_hex(8)})
    return f"{a} + {b} = ?", token


def check_challenge(token: str, answer: str) -> str | None:
    """None when solved; otherwise the message to show (a fresh challenge is then drawn)."""
    try:
        value = signing.TimestampSigner(salt=CHALLENGE_SALT).unsign_object(
            token or "", max_age=CHALLENGE_MAX_AGE
        )
    except signing.SignatureExpired:
        return _("验证题已过期,请重新作答")
    except signing.BadSignature:
        return _("请完成验证题")
    answer = (answer or "").strip()
    if (
        not isinstance(value, dict)
        or not (answer.isascii() and answer.isdigit())
        or int(answer) != value.get("s")
    ):
        return _("验证题答案不正确")
    if not cache.add(f"pubc:ch:{value.get('n')}", 1, timeout=CHALLENGE_MAX_AGE):
        return _("验证题已使用,请重新作答")
    return None


# ---- the status page: plain words, nothing personal ----------------------------------------------

# What each state means to the person who filed (the complaints app's own labels are the staff's words).
STATUS_WORDS = {
    "received": (gettext_lazy("已受理"), gettext_lazy("机构已收到,将尽快与您联系。")),
    "acknowledged": (gettext_lazy("已回应"), gettext_lazy("机构已与您联系,正在安排处理。")),
    "investigating": (gettext_lazy("调查处理中"), gettext_lazy("机构正在调查核实。")),
    "escalated": (gettext_lazy("已转交协会"), gettext_lazy("已提交行业协会协调处理。")),
    "resolved": (gettext_lazy("已办结"), gettext_lazy("机构已给出处理结果,并会与您确认。")),
    "closed": (gettext_lazy("已结案"), gettext_lazy("处理结束。")),
    "withdrawn": (gettext_lazy("已撤回"), gettext_lazy("您已撤回,处理结束。")),
}
STEP_WORDS = {
    "received": gettext_lazy("已受理"),
    "on_spot": gettext_lazy("已办结"),
    "acknowledged": gettext_lazy("已回应"),
    "investigating": gettext_lazy("调查处理中"),
    "escalated": gettext_lazy("已转交协会"),
    "resolved": gettext_lazy("已办结"),
    "closed": gettext_lazy("已结案"),
    "withdrawn": gettext_lazy("已撤回"),
}


def status_view(found: dict[str, Any]) -> dict[str, Any]:
    """``complaints.queries.public_timeline`` in plain words: the state, what it means, the steps by day."""
    label, meaning = STATUS_WORDS.get(found["status"], (found["status_label"], ""))
    return {
        "tracking_no": found["tracking_no"],
        "institution": found["institution"],
        "category_label": found["category_label"],
        "status": found["status"],
        "label": label,
        "meaning": meaning,
        "received_on": found["received_on"],
        "resolve_due_at": found["resolve_due_at"]
        if found["status"] in ("received", "acknowledged", "investigating", "escalated")
        else None,
        "steps": [{"label": STEP_WORDS.get(s["kind"], s["kind"]), "on": s["on"]} for s in found["steps"]],
    }
