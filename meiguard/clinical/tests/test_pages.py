"""The clinical pages through Django's test client: who may open and press what, each step through its page,
the gate's reasons on the page, and the pinned query counts of the case page and the client search."""

from __future__ import annotations

import re
from decimal import Decimal

from meiguard.clinical import actions
from meiguard.clinical.models import Case, ConsentSignature, Consultation, Usage
from meiguard.core.choices import OrganizationKind, Role
from meiguard.core.models import Membership, Organization, User
from meiguard.registry.models import Product
from meiguard.registry.tests.factories import gtin

from .conftest import BREAST, GOOD_ANSWERS, PNG, TOXIN


def _supplier(world):
    org = Organization.objects.create(name="丙供应商", kind=OrganizationKind.SUPPLIER)
    user = User.objects.create_user(username="gong", password="pw-gong-123456", display_name="gong")
    Membership.objects.create(user=user, organization=org, role=Role.SUPPLIER_ADMIN)
    world.users["gong"] = user
    return user


def test_the_nav_shows_clinical_to_institution_staff_only(clin):
    w = clin.world
    for name in ("wang", "li", "zhang", "zhao"):
        assert 'href="/clinical/"' in w.client(name).get("/").content.decode(), name
    _supplier(w)
    for name in ("qian", "gong"):
        assert 'href="/clinical/"' not in w.client(name).get("/").content.decode(), name


def test_a_supplier_has_no_access(clin):
    _supplier(clin.world)
    c = clin.world.client("gong")
    case = clin.case()
    assert c.get("/clinical/").status_code == 403
    assert c.get(f"/clinical/clients/{clin.client.pk}/").status_code == 404
    assert c.get(f"/clinical/cases/{case.pk}/").status_code == 404


def test_another_institution_gets_404_everywhere(clin):
    case = clin.case()
    sun = clin.world.client("sun")
    for url in (
        f"/clinical/clients/{clin.client.pk}/",
        f"/clinical/cases/{case.pk}/",
        f"/clinical/cases/{case.pk}/summary.pdf",
        f"/clinical/lots/{clin.clinic.lot.pk}/",
        f"/clinical/clients/{clin.client.pk}/usages.xlsx",
    ):
        assert sun.get(url).status_code == 404, url
    r = sun.post(f"/clinical/cases/{case.pk}/step/consultation/", {"needs": "x", "procedure_codes": [TOXIN]})
    assert r.status_code == 404
    assert sun.post(f"/clinical/cases/{case.pk}/open/").status_code == 404


def test_the_auditor_reads_but_is_offered_nothing_and_cannot_write(clin):
    case = clin.case()
    qian = clin.world.client("qian")
    page = qian.get(f"/clinical/cases/{case.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert case.code in html and '<form method="post" action="/clinical/cases/' not in html
    r = qian.post(f"/clinical/cases/{case.pk}/step/consultation/", {"needs": "x", "procedure_codes": [TOXIN]})
    assert r.status_code == 404
    assert not Consultation.objects.filter(case=case).exists()
    assert qian.get(f"/clinical/clients/{clin.client.pk}/").status_code == 200


def test_search_finds_by_name_phone_and_id_number(clin):
    c = clin.world.client("zhao")
    inst = clin.clinic.jia.pk
    client = clin.client
    for q in (client.name[:1], client.phone, client.id_number):
        html = c.get("/clinical/", {"institution": inst, "q": q}).content.decode()
        assert f"/clinical/clients/{client.pk}/" in html, q
    html = c.get("/clinical/", {"institution": inst, "q": "无此人"}).content.decode()
    assert "没有找到" in html


def test_the_search_page_costs_the_same_queries_at_1_and_at_20_matches(clin, django_assert_num_queries):
    c = clin.world.client("zhao")
    inst = clin.clinic.jia.pk
    c.get("/clinical/", {"institution": inst, "q": "王"})  # warm the session and caches
    # 10 with the header's pending-approvals badge (core/templates/base.html)
    with django_assert_num_queries(10):
        c.get("/clinical/", {"institution": inst, "q": "王"})
    for _i in range(19):
        clin.new_client("王女士")
    with django_assert_num_queries(10):
        r = c.get("/clinical/", {"institution": inst, "q": "王"})
    assert r.content.decode().count("/clinical/clients/") >= 20


def test_creating_a_client_on_the_page_and_precise_errors(clin):
    c = clin.world.client("zhang")
    url = f"/clinical/clients/new/?institution={clin.clinic.jia.pk}"
    r = c.post(url, {"name": "", "date_of_birth": "1990-02-30", "phone": "1", "id_number": ""})
    assert r.status_code == 422
    assert "日期格式应为 YYYY-MM-DD" in r.content.decode()
    r = c.post(url, {"name": "", "date_of_birth": "1990-02-03", "phone": "1", "document_type": "resident_id"})
    assert r.status_code == 422
    html = r.content.decode()
    assert "姓名:此字段为必填项" in html and "请输入有效的电话号码" in html
    from meiguard.authz.tests.conftest import id_number

    r = c.post(
        url,
        {
            "name": "赵女士",
            "date_of_birth": "1992-02-03",
            "phone": "13900001111",
            "document_type": "resident_id",
            "id_number": id_number(),
            "sex": "female",
        },
    )
    assert r.status_code == 302
    assert r["Location"].startswith("/clinical/clients/")


def test_privacy_consent_grant_and_withdraw_on_the_client_page(clin):
    c = clin.world.client("zhao")
    client = clin.new_client("孙女士")
    consent = client.privacy_consents.get()
    url = f"/clinical/clients/{client.pk}/privacy/{consent.pk}/withdraw/"
    assert c.post(url, {"reason": ""}).status_code == 422
    assert c.post(url, {"reason": "不再在本机构治疗"}).status_code == 302
    html = c.get(f"/clinical/clients/{client.pk}/").content.decode()
    assert "未同意处理健康信息" in html
    r = c.post(
        f"/clinical/clients/{client.pk}/privacy/",
        {"purpose": "诊疗", "scope": ["health"], "retention_years": "30", "notice_version": "2026-2"},
    )
    assert r.status_code == 302
    assert "健康信息已同意" in c.get(f"/clinical/clients/{client.pk}/").content.decode()


def test_a_toxin_case_walks_through_its_pages_to_a_closed_record(clin):
    w = clin.world
    zhao, li, zhang = w.client("zhao"), w.client("li"), w.client("zhang")
    r = zhao.post(
        f"/clinical/clients/{clin.client.pk}/cases/new/",
        {
            "procedure_code": TOXIN,
            "operator_id": clin.clinic.li.pk,
            "nurse_id": clin.nurse.pk,
            "anesthesia": "",
        },
    )
    assert r.status_code == 302
    case = Case.objects.get(client=clin.client)
    base = f"/clinical/cases/{case.pk}/"
    assert 'class="card step is-next" id="step-consultation"' in zhao.get(base).content.decode()

    def post(client, step, data=None, status=302):
        resp = client.post(f"{base}step/{step}/", data or {})
        assert resp.status_code == status, resp.content.decode()[:2000]
        return resp

    post(zhao, "consultation", {"needs": "改善鱼尾纹", "procedure_codes": [TOXIN]})
    # A nurse may not sign the consultation: 403 with the reason on the page.
    assert "面诊须由医师签名" in post(zhang, "consultation-sign", status=403).content.decode()
    post(li, "consultation-sign")
    tpl = actions.current_template(case.institution_id, TOXIN)
    consent = {"template_id": tpl.pk, "content_hash": tpl.content_hash, "signer_name": "王女士"}
    # Signing without drawing is refused precisely.
    assert "签名应为 PNG" in post(zhang, "consent", consent | {"decision": "signed"}, 422).content.decode()
    post(zhang, "consent", consent | {"decision": "signed", "signature_image": PNG})
    assert ConsentSignature.objects.get(case=case).signature_image == PNG
    post(zhang, "assessment", {f"a_{k}": v for k, v in GOOD_ANSWERS.items()})
    post(li, "assessment-sign", {"role": "chief"})
    post(zhao, "review-open")
    post(li, "review-confirm", {"role": "chief"})
    post(zhang, "review-confirm", {"role": "nurse"})
    assert li.post(f"{base}open/").status_code == 302
    html = li.get(base).content.decode()
    assert 'data-testid="engine-verdict"' in html and "允许" in html
    lot = clin.clinic.lot
    Product.objects.filter(pk=lot.product_id).update(udi_di=gtin(41))  # the toxin box's UDI-DI
    product = Product.objects.get(pk=lot.product_id)
    code = f"(01){product.udi_di}(17)301231(10){lot.lot_no}"
    post(li, "usage", {"usage_key": "k1", "code": code, "dose_value": "50", "site": "眼周"})
    # The same key again records once.
    post(li, "usage", {"usage_key": "k1", "code": code, "dose_value": "50", "site": "眼周"})
    assert Usage.objects.filter(case=case).count() == 1
    post(li, "close", {"notes": "顺利"})
    case.refresh_from_db()
    assert case.status == "closed"
    # The client file lists what went into her, with the export.
    page = zhao.get(f"/clinical/clients/{clin.client.pk}/").content.decode()
    assert lot.lot_no in page and "usages.xlsx" in page
    xlsx = zhao.get(f"/clinical/clients/{clin.client.pk}/usages.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    # The lot look-back page names her with her phone.
    look = zhao.get(f"/clinical/lots/{lot.pk}/").content.decode()
    assert clin.client.name in look and clin.client.phone in look


def test_the_gate_lists_every_reason_with_its_source_and_next_step(clin):
    case = clin.case(BREAST)
    r = clin.world.client("zhou").post(f"/clinical/cases/{case.pk}/open/")
    assert r.status_code == 409
    html = r.content.decode()
    gate = html[html.index('id="gate-result"') :]
    for code in (
        "CONSULTATION_NOT_SIGNED",
        "CONSENT_NOT_SIGNED",
        "ASSESSMENT_MISSING",
        "REVIEW_MISSING",
        "CHECKLIST_NODE1_INCOMPLETE",
    ):
        assert code in gate, code
    assert "依据" in gate and "手术安全核查" in gate
    assert 'href="#step-consent"' in gate and 'href="#step-node1"' in gate


def test_the_case_page_query_count_is_pinned(clin, django_assert_num_queries):
    case = clin.ready(TOXIN)
    actions.open_record(clin.actor("li"), case.pk)
    lot = clin.clinic.lot
    li = clin.world.client("li")
    url = f"/clinical/cases/{case.pk}/"
    li.get(url)
    actions.add_usage(clin.actor("li"), case.pk, usage_key="a", lot_id=lot.pk, dose_value=Decimal(10))
    with django_assert_num_queries(QUERIES) as ctx:
        li.get(url)
    actions.add_usage(clin.actor("li"), case.pk, usage_key="b", lot_id=lot.pk, dose_value=Decimal(10))
    actions.add_usage(clin.actor("li"), case.pk, usage_key="c", lot_id=lot.pk, dose_value=Decimal(10))
    with django_assert_num_queries(QUERIES):
        r = li.get(url)
    assert len(re.findall(lot.lot_no, r.content.decode())) >= 3
    assert ctx is not None


QUERIES = 20  # 19 + the header's pending-approvals badge


def test_the_signed_consent_pdf_shows_text_version_hash_signature_and_signer(clin):
    from meiguard.reviews.tests.test_reports import _text

    case = clin.case()
    tpl = actions.current_template(case.institution_id, case.procedure_code)
    sig = actions.sign_consent(
        clin.actor("zhang"),
        case.pk,
        template_id=tpl.pk,
        content_hash=tpl.content_hash,
        decision="signed",
        signer_name="王女士",
        signature_image=_real_png(),
    )
    r = clin.world.client("zhao").get(f"/clinical/cases/{case.pk}/consents/{sig.pk}.pdf")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    pdf = r.content
    text = _text(pdf)
    for expected in ("知情同意书", "疼痛、淤青", "不治疗", "王女士", "已签署同意", sig.content_hash[:16]):
        assert expected in text, expected
    assert b"/Subtype /Image" in pdf or b"/Subtype/Image" in pdf  # the drawn signature is embedded
    assert clin.world.client("sun").get(f"/clinical/cases/{case.pk}/consents/{sig.pk}.pdf").status_code == 404


def test_the_case_summary_pdf_covers_every_step(clin):
    from meiguard.reviews.tests.test_reports import _text

    case = clin.ready(TOXIN)
    actions.open_record(clin.actor("li"), case.pk)
    actions.add_usage(
        clin.actor("li"),
        case.pk,
        usage_key="p",
        lot_id=clin.clinic.lot.pk,
        dose_value=Decimal(20),
        site="额部",
    )
    actions.close_record(clin.actor("li"), case.pk, notes="顺利完成")
    text = _text(clin.world.client("zhao").get(f"/clinical/cases/{case.pk}/summary.pdf").content)
    for expected in (
        "病例摘要",
        "王女士",
        "知情同意",
        "术前评估",
        "分级评估",
        clin.clinic.lot.lot_no,
        "额部",
        "顺利完成",
    ):
        assert expected in text, expected


def _real_png() -> str:
    import base64
    import io

    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (120, 40), (255, 255, 255, 0))
    ImageDraw.Draw(img).line((5, 30, 60, 5, 115, 30), fill=(0, 0, 0, 255), width=3)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_the_pages_refuse_control_characters_and_other_digits(clin):
    """The pages share the API's edge: no control character in a one-line field, ASCII digits only in numbers."""
    from meiguard.authz.tests.conftest import id_number

    c = clin.world.client("zhang")
    url = f"/clinical/clients/new/?institution={clin.clinic.jia.pk}"
    data = {
        "name": "赵\x16女士",
        "date_of_birth": "1992-02-03",
        "phone": "13900001111",
        "document_type": "resident_id",
        "id_number": id_number(),
        "sex": "female",
    }
    r = c.post(url, data)
    assert r.status_code == 422 and "不能包含控制字符(U+0016)" in r.content.decode()
    r = c.post(
        f"/clinical/clients/{clin.client.pk}/cases/new/", {"procedure_code": TOXIN, "operator_id": "١٢"}
    )
    assert r.status_code in (400, 422) and "请输入整数" in r.content.decode()
    assert not Case.objects.filter(client=clin.client).exists()


def test_the_case_page_names_invasiveness_and_anaesthesia_not_their_codes(clin):
    case = clin.case(BREAST)
    html = clin.world.client("zhao").get(f"/clinical/cases/{case.pk}/").content.decode()
    head = html[html.index("<h1>") : html.index("</h1>")]
    assert "手术" in head and "硬膜外/静脉全麻" in head
    assert "surgical" not in head and "epidural-iv" not in head
