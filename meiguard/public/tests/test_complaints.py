"""Complaints and reports from the public (issue 15 part 3): the phone-first form, the tracking page, the status
page, rate limits and the challenge. Every response here also goes through the personal-data guard
(conftest.py), which now knows every complainant's name and phone."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import signing
from django.test import Client as DjangoClient
from django.urls import reverse
from django.utils import timezone

from meiguard.complaints import actions as complaint_actions
from meiguard.complaints.models import Complaint
from meiguard.notify.models import Notification
from meiguard.public import complaint_form
from meiguard.public.tests import conftest as guard

pytestmark = pytest.mark.django_db

NEW = "/p/complaints/new/"
STATUS = "/p/complaints/status/"
NAME = "投诉人陈某某"
PHONE = "13987654321"


def form(institution_id: int, **over: str) -> dict[str, str]:
    data = {
        "kind": "complaint",
        "category": "price",
        "institution": str(institution_id),
        "description": "实际收费比公示价格高出两千元,未提前告知。",
        "name": NAME,
        "phone": PHONE,
        "related_on": "",
        "place": "",
    }
    data.update(over)
    return data


def file(anon: DjangoClient, institution_id: int, **over: str) -> str:
    response = anon.post(NEW, form(institution_id, **over), follow=True)
    assert response.status_code == 200, response.content.decode()[:2000]
    assert response.redirect_chain[0][1] == 303
    m = re.search(r'data-testid="tracking-no">(TS[0-9A-Z]+)<', response.content.decode())
    assert m
    return m.group(1)


def test_the_form_is_private_noindex_csrf_and_takes_the_institution_from_its_page(clin, anon) -> None:
    jia = clin.clinic.jia
    page = anon.get(reverse("public:institution", args=[jia.pk])).content.decode()
    assert f'href="{NEW}?institution={jia.pk}"' in page and "投诉/报告" in page
    response = anon.get(NEW, {"institution": jia.pk})
    html = response.content.decode()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and "public" not in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert '<meta name="robots" content="noindex, nofollow">' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert f'<option value="{jia.pk}" selected>{jia.name}</option>' in html
    for label in ("一般投诉", "不良反应报告", "疑似非法行医", "疑似假冒产品"):
        assert label in html
    assert "<script" not in html
    assert "Disallow: /p/complaints/" in anon.get("/robots.txt").content.decode()


def test_without_the_csrf_token_a_post_is_refused(clin) -> None:
    strict = DjangoClient(enforce_csrf_checks=True)
    assert strict.post(NEW, form(clin.clinic.jia.pk)).status_code == 403
    assert not Complaint.objects.exists()


def test_filing_gives_a_tracking_number_routes_to_the_officers_and_never_echoes_the_phone(
    clin, anon, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        posted = anon.post(NEW, form(clin.clinic.jia.pk, related_on="2026-11-30"))
    assert posted.status_code == 303 and "no-store" in posted["Cache-Control"]
    response = anon.get(posted["Location"])
    html = response.content.decode()
    assert response.status_code == 200
    assert "保存好您的查询号" in html and clin.clinic.jia.name in html
    assert anon.get(posted["Location"]).content == response.content  # a reload files nothing
    c = Complaint.objects.get()
    assert c.tracking_no in html
    assert PHONE not in html and NAME not in html and PHONE[-4:] not in html
    assert "no-store" in response["Cache-Control"] and response["X-Robots-Tag"] == "noindex, nofollow"
    assert (c.channel, c.category, c.owner_id, c.institution_id) == (
        "public",
        "price",
        None,
        clin.clinic.jia.pk,
    )
    assert (c.complainant_name, c.complainant_contact) == (NAME, PHONE)
    assert c.description.startswith("【公众投诉页面 · 一般投诉】\n相关日期:2026-11-30\n\n实际收费")
    # The institution's officers are told (as complaints does for the public channel), without the complainant.
    note = Notification.objects.get(
        recipient=clin.world.users["zhao"], dedupe_key=f"complaints:{c.pk}:received"
    )
    assert NAME not in str(note.params) and PHONE not in str(note.params)


@pytest.mark.parametrize(
    ("kind", "category", "head"),
    [
        ("adverse", "adverse", "【公众投诉页面 · 不良反应报告】"),
        ("unlicensed", "other", "【公众投诉页面 · 疑似非法行医】\n地点/名称:三楼“美丽工作室”"),
        ("counterfeit", "other", "【公众投诉页面 · 疑似假冒产品】\n地点/名称:三楼“美丽工作室”"),
    ],
)
def test_each_kind_maps_onto_a_category(clin, anon, kind: str, category: str, head: str) -> None:
    place = "" if kind == "adverse" else "三楼“美丽工作室”"
    file(anon, clin.clinic.jia.pk, kind=kind, category="", place=place)
    c = Complaint.objects.get()
    assert c.category == category
    assert c.description.startswith(head)


@pytest.mark.parametrize(
    ("over", "field_message"),
    [
        ({"kind": ""}, "请选择类型"),
        ({"kind": "praise"}, "请选择类型"),
        ({"category": ""}, "请选择投诉事项"),
        ({"institution": ""}, "请选择机构"),
        ({"institution": "999999"}, "机构不存在,请从列表中选择"),
        ({"institution": "abc"}, "机构不存在,请从列表中选择"),
        ({"description": ""}, "此字段为必填项"),
        ({"description": "太贵了"}, "请至少用 10 个字说明经过"),
        ({"description": "长" * 2001}, "长度不能超过 2000"),
        ({"name": ""}, "此字段为必填项"),
        ({"phone": ""}, "此字段为必填项"),
        ({"phone": "12345678901"}, "请输入 11 位手机号码(1 开头)"),
        ({"phone": "1398765432"}, "请输入 11 位手机号码(1 开头)"),
        ({"phone": "+8613987654321"}, "请输入 11 位手机号码(1 开头)"),
        ({"related_on": "2026/11/30"}, "日期格式应为 YYYY-MM-DD"),
        ({"related_on": "2999-01-01"}, "日期不能晚于今天"),
        ({"related_on": "2001-01-01"}, "日期不能早于 3 年前"),
        ({"place": "x" * 201}, "长度不能超过 200"),
    ],
)
def test_invalid_forms_are_422_with_a_precise_message_and_no_echo(clin, anon, over, field_message) -> None:
    response = anon.post(NEW, form(clin.clinic.jia.pk, **over))
    html = response.content.decode()
    assert response.status_code == 422
    assert field_message in html
    field = next(iter(over))
    if field != "kind":  # the message is tied to its control for screen readers
        control = "institution" if field == "institution" else field
        assert f'aria-invalid="true" aria-describedby="{control}-error"' in html
        assert f'<p class="errors" id="{control}-error">{field_message}' in html
    assert NAME not in html and PHONE not in html  # typed again, never shown back
    assert "no-store" in response["Cache-Control"]
    assert not Complaint.objects.exists()


def test_the_tracking_page_link_is_signed_and_lasts_an_hour(clin, anon, monkeypatch) -> None:
    location = anon.post(NEW, form(clin.clinic.jia.pk))["Location"]
    assert anon.get(location).status_code == 200
    tampered = location.replace("/done/", "/done/x")
    for url in (tampered, "/p/complaints/done/nonsense/"):
        response = anon.get(url)
        assert response.status_code == 404 and "链接已失效" in response.content.decode()
    later = timezone.now() + dt.timedelta(minutes=61)
    monkeypatch.setattr("time.time", lambda: later.timestamp())
    expired = anon.get(location)
    assert expired.status_code == 404 and Complaint.objects.get().tracking_no not in expired.content.decode()


def test_a_phone_with_spaces_or_dashes_is_accepted(clin, anon) -> None:
    file(anon, clin.clinic.jia.pk, phone="139-8765 4321")
    assert Complaint.objects.get().complainant_contact == PHONE


def _status(anon: DjangoClient, no: str, tail: str):
    return anon.post(STATUS, {"no": no, "tail": tail})


def test_the_status_page_follows_the_workflow_in_plain_words(clin, anon) -> None:
    no = file(anon, clin.clinic.jia.pk)
    c = Complaint.objects.get()
    response = _status(anon, no.lower(), PHONE[-4:])
    html = response.content.decode()
    assert response.status_code == 200
    assert "已受理" in html and clin.clinic.jia.name in html and "价格收费" in html
    assert "处理时限" in html
    assert "no-store" in response["Cache-Control"] and response["X-Robots-Tag"] == "noindex, nofollow"
    zhao = clin.actor("zhao")
    complaint_actions.acknowledge(zhao, c.pk, note="已电话联系")
    complaint_actions.investigate(zhao, c.pk)
    complaint_actions.add_note(zhao, c.pk, note="调取收费记录,经办人李医生")
    html = _status(anon, no, PHONE[-4:]).content.decode()
    assert "调查处理中" in html and "已回应" in html
    complaint_actions.resolve_complaint(zhao, c.pk, resolution="退还差价两千元")
    html = _status(anon, no, PHONE[-4:]).content.decode()
    assert "已办结" in html and "处理时限" not in html
    for private in ("已电话联系", "调取收费记录", "退还差价", "李医生", "赵", NAME, PHONE, "实际收费"):
        assert private not in html, private
    steps = re.findall(r"<li><strong>([^<]+)</strong>", html)
    assert steps == ["已受理", "已回应", "调查处理中", "已办结"]
    complaint_actions.close(zhao, c.pk, satisfaction=5)
    assert "已结案" in _status(anon, no, PHONE[-4:]).content.decode()


def test_unknown_number_and_wrong_digits_get_the_same_answer(clin, anon) -> None:
    no = file(anon, clin.clinic.jia.pk)
    wrong_tail = _status(anon, no, "0000")
    unknown = _status(anon, "TS20261204ABCDEFGH", PHONE[-4:])
    assert wrong_tail.status_code == unknown.status_code == 404
    strip = lambda r: re.sub(r'value="[^"]*"', "", r.content.decode())  # noqa: E731  (the echoed number, csrf)
    assert strip(wrong_tail) == strip(unknown)
    assert "未查到" in wrong_tail.content.decode()
    bad = _status(anon, no, "12ab")
    assert bad.status_code == 422 and "请输入手机号码后四位(4 位数字)" in bad.content.decode()
    empty = _status(anon, "", PHONE[-4:])
    assert empty.status_code == 422 and "请输入查询号" in empty.content.decode()
    assert anon.get(STATUS).status_code == 200


def test_submissions_and_status_lookups_are_rate_limited(clin, anon, settings) -> None:
    settings.RATE_LIMITS_ENABLED = True
    settings.RATE_LIMITS = {
        **settings.RATE_LIMITS,
        "public_complaint": (2, 3600),
        "public_complaint_status": (2, 3600),
    }
    settings.PUBLIC_COMPLAINT_CHALLENGE_AFTER = 100
    file(anon, clin.clinic.jia.pk)
    assert anon.post(NEW, form(clin.clinic.jia.pk, phone="1")).status_code == 422  # invalid ones count too
    over = anon.post(NEW, form(clin.clinic.jia.pk))
    assert over.status_code == 429 and int(over["Retry-After"]) > 0
    assert Complaint.objects.count() == 1
    for _i in range(2):
        assert _status(anon, "TS20261204ABCDEFGH", "1234").status_code == 404
    assert _status(anon, "TS20261204ABCDEFGH", "1234").status_code == 429
    other = DjangoClient(REMOTE_ADDR="10.9.9.9")  # another address has its own allowance
    assert _status(other, "TS20261204ABCDEFGH", "1234").status_code == 404


def _challenge(html: str) -> tuple[str, int]:
    token = re.search(r'name="challenge_token" value="([^"]+)"', html)
    assert token, "no challenge on the form"
    value = signing.TimestampSigner(salt=complaint_form.CHALLENGE_SALT).unsign_object(token.group(1))
    a, b = map(int, re.search(r"(\d) \+ (\d) = \?", html).groups())  # type: ignore[union-attr]
    assert a + b == value["s"]
    return token.group(1), value["s"]


def test_a_challenge_from_the_third_submission_within_the_hour(clin, anon, monkeypatch) -> None:
    jia = clin.clinic.jia.pk
    for _i in range(2):
        assert "challenge_token" not in anon.get(NEW).content.decode()
        file(anon, jia)
    html = anon.get(NEW).content.decode()
    token, answer = _challenge(html)
    missing = anon.post(NEW, form(jia))
    assert missing.status_code == 422 and "请完成验证题" in missing.content.decode()
    wrong = anon.post(NEW, {**form(jia), "challenge_token": token, "challenge_answer": str(answer + 1)})
    assert wrong.status_code == 422 and "验证题答案不正确" in wrong.content.decode()
    _challenge(wrong.content.decode())  # a fresh one is shown with the error
    assert Complaint.objects.count() == 2
    ok = anon.post(NEW, {**form(jia), "challenge_token": token, "challenge_answer": str(answer)})
    assert ok.status_code == 303 and Complaint.objects.count() == 3
    again = anon.post(NEW, {**form(jia), "challenge_token": token, "challenge_answer": str(answer)})
    assert again.status_code == 422 and "验证题已使用,请重新作答" in again.content.decode()
    # Another address is not challenged.
    assert "challenge_token" not in DjangoClient(REMOTE_ADDR="10.9.9.8").get(NEW).content.decode()
    # A challenge older than ten minutes is refused.
    token, answer = _challenge(anon.get(NEW).content.decode())
    later = timezone.now() + dt.timedelta(minutes=11)
    monkeypatch.setattr("time.time", lambda: later.timestamp())
    stale = anon.post(NEW, {**form(jia), "challenge_token": token, "challenge_answer": str(answer)})
    assert stale.status_code == 422 and "验证题已过期,请重新作答" in stale.content.decode()


def test_the_guard_knows_the_complainants(clin, anon) -> None:
    file(anon, clin.clinic.jia.pk)
    values = guard.personal_values()
    assert NAME in values and PHONE in values
    assert guard.scan([("/p/complaints/status/", f"<p>{NAME}</p>")], values)


def test_english(clin, anon) -> None:
    anon.cookies["django_language"] = "en"
    html = anon.get(NEW).content.decode()
    assert "Complaints and reports" in html and "Mobile number" in html
    no = file(anon, clin.clinic.jia.pk)
    html = _status(anon, no, PHONE[-4:]).content.decode()
    assert "Received" in html
