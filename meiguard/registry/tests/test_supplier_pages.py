"""Supplier pages (issue 16): a supplier admin registers and edits its own products and distribution
authorizations in pages, through the same actions (validation, audit) as the API; other roles are refused at
GET with the reason; another supplier's rows are not found."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from meiguard.audit.models import AuditEntry
from meiguard.core.choices import OrganizationKind, Role
from meiguard.core.models import Membership, Organization, User
from meiguard.registry.models import DistributionAuthorization, Product

from .factories import DistributionAuthorizationFactory, ProductFactory, SupplierFactory

PRODUCT = {
    "generic_name": "注射用交联透明质酸钠凝胶",
    "brand_name": "润致",
    "kind": "device",
    "risk_class": "III",
    "registration_no": "国械注准20213130999",
    "registrant": "华熙生物科技股份有限公司",
    "registration_valid_until": "2030-01-31",
    "category": "hyaluronic_acid",
    "high_risk": "on",
    "dose_unit": "ml",
}


@pytest.fixture
def other_supplier(reg, world):
    """A second supplier (吴 is its admin) with a product and an authorization of its own."""
    org = Organization.objects.create(name="西南医疗器械", kind=OrganizationKind.SUPPLIER)
    wu = User.objects.create_user(username="wu", password="pw-wu-123456", display_name="wu")
    Membership.objects.create(user=wu, organization=org, role=Role.SUPPLIER_ADMIN)
    world.users["wu"] = wu
    supplier = SupplierFactory(organization=org, name="西南医疗器械")
    return {
        "supplier": supplier,
        "product": ProductFactory(supplier=supplier),
        "authorization": DistributionAuthorizationFactory(supplier=supplier),
    }


@pytest.mark.parametrize("username", ["li", "zhao", "qian", "wang"])
@pytest.mark.parametrize("url", ["/registry/products/new/", "/registry/distribution-authorizations/new/"])
def test_other_roles_are_refused_at_get(reg, world, username, url):
    response = world.client(username).get(url)
    assert response.status_code == 403
    assert "供应商管理员" in response.content.decode()  # the reason, in the styled error page


def test_links_only_for_the_supplier(reg, world):
    zhou, li = world.client("zhou"), world.client("li")
    assert "/registry/products/new/" in zhou.get("/registry/products/").content.decode()
    assert "/registry/products/new/" not in li.get("/registry/products/").content.decode()
    detail = f"/registry/products/{reg.product.pk}/"
    assert f"/registry/products/{reg.product.pk}/edit/" in zhou.get(detail).content.decode()
    assert f"/registry/products/{reg.product.pk}/edit/" not in li.get(detail).content.decode()
    da = DistributionAuthorizationFactory(supplier=reg.supplier)
    listing = "/registry/distribution-authorizations/"
    assert f"/{da.pk}/edit/" in zhou.get(listing).content.decode()
    page = li.get(listing).content.decode()
    assert (
        da.brand in page and f"/{da.pk}/edit/" not in page and "/distribution-authorizations/new/" not in page
    )


def test_the_supplier_registers_a_product(reg, world):
    c = world.client("zhou")
    page = c.get("/registry/products/new/").content.decode()
    assert f'<option value="{reg.supplier.pk}" selected>' in page  # its only supplier, preselected
    response = c.post("/registry/products/new/", {**PRODUCT, "supplier": reg.supplier.pk})
    product = Product.objects.get(registration_no="国械注准20213130999")
    assert response.status_code == 302 and response["Location"] == f"/registry/products/{product.pk}/"
    assert product.supplier == reg.supplier and product.high_risk
    assert AuditEntry.objects.filter(action="registry.product.created", object_id=str(product.pk)).exists()


def test_validation_errors_are_shown_on_the_form(reg, world):
    c = world.client("zhou")
    bad = {**PRODUCT, "supplier": reg.supplier.pk, "kind": "drug", "high_risk": ""}
    response = c.post("/registry/products/new/", bad)
    html = response.content.decode()
    assert response.status_code == 200
    assert "药品不填写器械管理类别" in html  # Product.clean, as in the API
    assert "必须标记为高风险" in html
    wrong_number = c.post(
        "/registry/products/new/", {**PRODUCT, "supplier": reg.supplier.pk, "registration_no": "ABC"}
    )
    assert wrong_number.status_code == 200 and "errorlist" in wrong_number.content.decode()
    assert not Product.objects.filter(brand_name="润致").exists()


def test_the_supplier_edits_its_product(reg, world):
    c = world.client("zhou")
    url = f"/registry/products/{reg.product.pk}/edit/"
    form = c.get(url)
    assert form.status_code == 200 and reg.product.registration_no in form.content.decode()
    data = {
        **PRODUCT,
        "registration_no": reg.product.registration_no,
        "registration_valid_until": "2031-06-30",
        "cold_chain": "on",
    }
    assert c.post(url, data).status_code == 302
    reg.product.refresh_from_db()
    assert reg.product.registration_valid_until == dt.date(2031, 6, 30) and reg.product.cold_chain
    entry = AuditEntry.objects.get(action="registry.product.updated", object_id=str(reg.product.pk))
    assert "registration_valid_until" in entry.changes


def test_a_supplier_cannot_edit_another_suppliers_rows(reg, world, other_supplier):
    c = world.client("zhou")
    product, auth = other_supplier["product"], other_supplier["authorization"]
    assert c.get(f"/registry/products/{product.pk}/").status_code == 200  # reference data: readable
    assert c.get(f"/registry/products/{product.pk}/edit/").status_code == 404
    assert c.post(f"/registry/products/{product.pk}/edit/", {**PRODUCT}).status_code == 404
    assert c.get(f"/registry/distribution-authorizations/{auth.pk}/edit/").status_code == 404
    # Nor create under it: the supplier field offers only its own, and a forged id is refused.
    page = c.get("/registry/products/new/").content.decode()
    assert f'value="{other_supplier["supplier"].pk}"' not in page
    forged = c.post("/registry/products/new/", {**PRODUCT, "supplier": other_supplier["supplier"].pk})
    assert forged.status_code == 200 and not Product.objects.filter(brand_name="润致").exists()
    product.refresh_from_db()
    assert product.supplier == other_supplier["supplier"]


def test_distribution_authorization_with_evidence(reg, world, other_supplier):
    c = world.client("zhou")
    response = c.post(
        "/registry/distribution-authorizations/new/",
        {
            "supplier": reg.supplier.pk,
            "brand": "润致",
            "registrant": "华熙生物科技股份有限公司",
            "territory": "湖南省",
            "valid_from": "2026-01-01",
            "valid_until": "2027-12-31",
            "evidence": SimpleUploadedFile("letter.pdf", b"%PDF-1.4 test", content_type="application/pdf"),
        },
    )
    assert response.status_code == 302
    da = DistributionAuthorization.objects.get(brand="润致")
    assert da.territory == "湖南省" and da.evidence
    assert AuditEntry.objects.filter(action="registry.distributionauthorization.created").exists()
    # The letter is served (decrypted) to those who may see it.
    download = c.get(f"/registry/distribution-authorizations/{da.pk}/evidence/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"%PDF-1.4 test"
    # Edit without a file keeps the letter; dates are checked by the model (until before from).
    url = f"/registry/distribution-authorizations/{da.pk}/edit/"
    bad = c.post(
        url, {"brand": "润致", "registrant": "华熙", "valid_from": "2027-01-01", "valid_until": "2026-01-01"}
    )
    assert bad.status_code == 200 and "errorlist" in bad.content.decode()
    ok = c.post(
        url,
        {
            "brand": "润致",
            "registrant": "华熙",
            "territory": "全国",
            "valid_from": "2026-01-01",
            "valid_until": "2027-12-31",
        },
    )
    assert ok.status_code == 302
    da.refresh_from_db()
    assert da.territory == "全国" and da.evidence
    assert world.client("wu").get(url).status_code == 404  # another supplier


def test_english_pages(reg, world):
    c = world.client("zhou")
    for url in ("/registry/products/new/", "/registry/distribution-authorizations/"):
        html = c.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "Distribution authorisation" in html or "Register product" in html
        assert "经销授权" not in html and "登记产品" not in html
