"""No personal data on the public side (issue 15 §6). The guard in conftest.py scans every public response of
every test in this folder; here it is shown to catch a leak, and every public page is visited in both
languages over a world with clients (names, phones, ID numbers), staff with e-mail addresses, a used and a
recalled unit, and a case behind a QR code."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from meiguard.core.models import User
from meiguard.public import tokens
from meiguard.public.tests import conftest as guard
from meiguard.public.tests.conftest import Inv

pytestmark = pytest.mark.django_db


def test_the_guard_catches_each_kind_of_leak() -> None:
    values = {"王女士", "13800001234"}
    leaks = [
        ("/p/x/", "身份证 430102199001011234"),
        ("/p/x/", "tel 13912345678"),
        ("/p/x/", "mail someone@example.com"),
        ("/p/x/", "<td>王女士</td>"),
        ("/p/x/", "href=/p/?q=%2B13912345678"),  # encoded in a link
    ]
    found = guard.scan(leaks, values)
    kinds = {f.split(":")[0] for _path, f in found}
    assert {"id_number", "phone", "email", "field"} <= kinds
    assert len({path for path, _ in found}) == 1 and len(found) >= 5
    # Longer digit runs (trace codes, GTINs) are not ID numbers or phones.
    assert guard.scan([("/p/x/", "86901234000000000001 06901234567892")], set()) == []


def test_every_public_page_in_both_languages(inv: Inv, anon, django_capture_on_commit_callbacks) -> None:
    from meiguard.inventory import recall

    for username in ("zhao", "li", "wang"):
        User.objects.filter(username=username).update(email=f"{username}@clinic.example")
    line, codes = inv.box(3)
    case = inv.open_case()
    inv.use(case, codes[0])
    other = inv.clin.new_client("赵女士")
    open_case = inv.clin.case(client=other)
    with django_capture_on_commit_callbacks(execute=True):
        recall.recall_lot(inv.actor("zhao"), line.lot_id, level=2, reason="厂家召回")
    li, jia = inv.clinic.li, inv.clinic.jia
    urls = [
        "/p/",
        "/p/institutions/",
        f"/p/institutions/?q={jia.name}",
        reverse("public:institution", args=[jia.pk]),
        reverse("public:institution", args=[inv.clinic.yi.pk]),
        f"/p/doctors/?name={li.name}",
        f"/p/doctors/?name={li.name}&institution={jia.pk}",
        f"/p/verify/?code={codes[0]}",
        f"/p/verify/?code={codes[1]}",
        reverse("public:case", args=[tokens.make(case.pk)]),
        reverse("public:case", args=[tokens.make(open_case.pk)]),
        reverse("public:case", args=["broken"]),
        "/robots.txt",
    ]
    for lang in ("zh-hans", "en"):
        anon.cookies["django_language"] = lang
        cache.clear()
        for url in urls:
            response = anon.get(url)
            assert response.status_code in (200, 404), (url, response.status_code)
    texts = [text for _path, text in guard.COLLECTED]
    assert len(texts) == 2 * len(urls)
    # The scan after this test runs over all of them; check here too, so the failure names this test.
    assert guard.scan(guard.COLLECTED, guard.personal_values()) == []
    assert any("已被召回" in t for t in texts) and any("Recalled" in t for t in texts)
    assert not any(re.search(r"王女士|赵女士", t) for t in texts)


def test_complaint_pages_in_both_languages_show_nothing_of_the_complainant(inv: Inv, anon) -> None:
    """The complaint form, its tracking page and the status page (found, not found) carry neither the
    complainant's name nor phone (the guard knows every complainant), nor anyone else's personal data."""
    from meiguard.complaints.models import Complaint

    jia = inv.clinic.jia
    posted = {
        "kind": "adverse",
        "institution": str(jia.pk),
        "description": "注射后第二天红肿,至今未消退。",
        "name": "投诉人周某某",
        "phone": "13611112222",
    }
    for lang in ("zh-hans", "en"):
        anon.cookies["django_language"] = lang
        assert anon.get("/p/complaints/new/", {"institution": jia.pk}).status_code == 200
        assert anon.post("/p/complaints/new/", posted, follow=True).status_code == 200  # + the tracking page
        no = Complaint.objects.order_by("-pk").first().tracking_no
        assert anon.post("/p/complaints/status/", {"no": no, "tail": "2222"}).status_code == 200
        assert anon.post("/p/complaints/status/", {"no": no, "tail": "0000"}).status_code == 404
        assert anon.post("/p/complaints/new/", {**posted, "phone": "1361111222"}).status_code == 422
    assert guard.scan(guard.COLLECTED, guard.personal_values()) == []
    assert len(guard.COLLECTED) == 12
