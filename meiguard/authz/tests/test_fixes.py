"""A refused check offers its fixes where the problem is (issue 16 item 3): a prefilled application for what
was missing, a supervisor select that re-runs the check, another lot of the same kind."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlparse

from meiguard.authz import actions, fixes
from meiguard.registry import actions as reg
from meiguard.workflow.choices import APPLY_ROLES

from .conftest import FAR, SYSTEM, authorize, make_doctor
from .test_views import HTMX, _form


def _links(html: str, marker: str) -> list[str]:
    return [m.replace("&amp;", "&") for m in re.findall(r'href="([^"]+)"[^>]*data-fix="' + marker, html)]


def test_apply_roles_match_the_workflow_apps():
    assert fixes.APPLY_ROLES == APPLY_ROLES


def test_a_revoked_product_authorization_offers_a_prefilled_product_application(clinic):
    actions.change_status(SYSTEM, clinic.auths["product"].pk, action="revoke", reason="复核不合格")
    r = clinic.world.client("zhao").post("/authz/check/", _form(clinic), **HTMX)
    html = r.content.decode()
    assert "AUTHORIZATION_REVOKED" in html
    (url,) = _links(html, "apply")
    parsed = urlparse(url)
    assert parsed.path == "/applications/new/"
    assert parse_qs(parsed.query) == {
        "institution": [str(clinic.jia.pk)],
        "practitioner": [str(clinic.li.pk)],
        "kind": ["product"],
        "product_brand": ["衡力"],
    }
    assert "申请 衡力 产品授权" in html
    assert f'href="/authz/authorizations/{clinic.auths["product"].pk}/"' in html

    # The link opens the application form with exactly that filled in.
    page = clinic.world.client("zhao").get(url).content.decode()
    assert re.search(r'<option value="product" selected>', page)
    assert 'value="衡力"' in page
    assert re.search(rf'<option value="{clinic.li.pk}" selected>', page)
    assert re.search(rf'<option value="{clinic.jia.pk}" selected>', page)


def test_a_missing_procedure_authorization_offers_a_qualification_application(clinic):
    actions.change_status(SYSTEM, clinic.auths["procedure"].pk, action="revoke", reason="复核不合格")
    html = clinic.world.client("li").post("/authz/check/", _form(clinic), **HTMX).content.decode()
    (url,) = _links(html, "apply")
    q = parse_qs(urlparse(url).query)
    assert (q["kind"], q["procedure_code"]) == (["qualification"], ["derm-botulinum-toxin-injection"])


def test_the_apply_link_is_only_for_those_who_may_apply(clinic):
    actions.change_status(SYSTEM, clinic.auths["product"].pk, action="revoke", reason="复核不合格")
    # The nurse may apply only for herself: no link for 李医生's check; the auditor never.
    for who in ("zhang", "qian"):
        html = clinic.world.client(who).post("/authz/check/", _form(clinic), **HTMX).content.decode()
        assert "AUTHORIZATION_REVOKED" in html, who
        assert _links(html, "apply") == [], who


def test_an_allowed_check_offers_nothing(clinic):
    html = clinic.world.client("zhao").post("/authz/check/", _form(clinic), **HTMX).content.decode()
    assert "下一步" not in html


def test_prefill_ignores_what_does_not_fit(clinic):
    page = (
        clinic.world.client("zhao")
        .get("/applications/new/", {"kind": "nonsense", "product_brand": "x" * 200, "subject": "nope"})
        .content.decode()
    )
    assert f'value="{"x" * 200}"' not in page
    assert re.search(r'<option value="qualification" selected>', page)


def test_not_a_chief_offers_the_eligible_supervisors_and_the_recheck_uses_one(clinic):
    surgeon = make_doctor(clinic.jia, "王主诊", subject="cosmetic_surgery", scope="外科")
    make_doctor(clinic.jia, "赵医生")  # a dermatology chief: not eligible for surgery
    authorize(clinic.jia, clinic.li, procedure_code="surg-double-eyelid")
    data = _form(clinic, procedure="surg-double-eyelid", lot_0=None, dose_value_0=None, dose_unit_0=None)
    data.pop("devices")
    client = clinic.world.client("zhao")
    html = client.post("/authz/check/", data, **HTMX).content.decode()
    assert "PRACTITIONER_NOT_CHIEF_FOR_SUBJECT" in html
    select = re.search(r'<select name="supervisor" id="fix-supervisor".*?</select>', html, re.S)
    assert select
    assert "王主诊" in select.group(0)
    assert "赵医生" not in select.group(0) and "李医生" not in select.group(0)
    # The re-check form carries the same question plus the chosen supervisor.
    form = re.search(r'<form[^>]*class="fix-form".*?</form>', html, re.S).group(0)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    assert hidden["procedure"] == "surg-double-eyelid"
    assert "supervisor" not in hidden
    again = client.post("/authz/check/", hidden | {"supervisor": str(surgeon.pk)}, **HTMX).content.decode()
    assert "PRACTITIONER_NOT_CHIEF_FOR_SUBJECT" not in again
    assert "王主诊" in again or "✓" in again or "!" in again


def test_an_expired_lot_offers_the_usable_lots_of_the_same_kind(clinic):
    on = dt.date(2026, 3, 3)
    old = reg.create_lot(
        SYSTEM,
        institution_id=clinic.jia.pk,
        product_id=clinic.toxin.pk,
        lot_no="OLD-1",
        expiry_date=on - dt.timedelta(days=1),
        unit="piece",
    )
    good = reg.create_lot(
        SYSTEM,
        institution_id=clinic.jia.pk,
        product_id=clinic.toxin.pk,
        lot_no="GOOD-2",
        expiry_date=FAR,
        unit="piece",
    )
    client = clinic.world.client("zhao")
    html = client.post("/authz/check/", _form(clinic, lot_0=str(old.pk)), **HTMX).content.decode()
    assert "LOT_EXPIRED" in html
    select = re.search(r'<select name="lot_0" id="fix-lot-0".*?</select>', html, re.S).group(0)
    assert f'value="{good.pk}"' in select
    assert f'value="{clinic.lot.pk}"' in select  # B2026001, also a usable toxin lot
    assert f'value="{old.pk}"' not in select
    form = re.search(r'<form[^>]*class="fix-form".*?</form>', html, re.S).group(0)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    assert "lot_0" not in hidden and hidden["dose_value_0"] == "50"
    again = client.post("/authz/check/", hidden | {"lot_0": str(good.pk)}, **HTMX).content.decode()
    assert "LOT_EXPIRED" not in again
    assert "✓" in again
