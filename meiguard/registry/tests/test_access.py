"""Tenant isolation through pages, API, admin: sun (乙) sees 404s, qian (auditor) reads only, li cannot write."""

import json

import pytest
from django.apps import apps

from meiguard.audit.models import AuditEntry
from meiguard.core.access import TenantPolicy, TenantQuerySet
from meiguard.registry.models import Institution, Lot, Practitioner

BASE = "/api/v1/registry"


def test_every_registry_model_uses_tenant_queryset_with_a_policy():
    models = list(apps.get_app_config("registry").get_models())
    assert len(models) == 10
    for model in models:
        assert isinstance(model._default_manager.all(), TenantQuerySet), model.__name__
        assert isinstance(getattr(model, "tenancy", None), TenantPolicy), model.__name__
        assert callable(getattr(model, "audit_organization_id", None)), model.__name__


@pytest.mark.parametrize(
    ("url", "attr"),
    [
        ("/registry/institutions/{}/", "jia"),
        ("/registry/practitioners/{}/", "li"),
        ("/registry/lots/{}/", "lot"),
        ("/registry/devices/{}/", "device"),
        ("/registry/institutions/{}/edit/", "jia"),
        ("/registry/practitioners/{}/edit/", "li"),
        ("/registry/practitioners/{}/qualifications/new/", "li"),
    ],
)
def test_it_returns_404_for_other_institution_pages(reg, world, url, attr):
    r = world.client("sun").get(url.format(getattr(reg, attr).pk))
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("url", "attr"),
    [
        ("/institutions/{}", "jia"),
        ("/practitioners/{}", "li"),
        ("/lots/{}", "lot"),
        ("/devices/{}", "device"),
        ("/qualifications/{}", "qualification"),
    ],
)
def test_it_returns_404_for_other_institution_in_the_api(reg, world, url, attr):
    c = world.client("sun")
    r = c.get(BASE + url.format(getattr(reg, attr).pk))
    assert r.status_code == 404
    r = c.patch(BASE + url.format(getattr(reg, attr).pk), data="{}", content_type="application/json")
    assert r.status_code == 404


def test_lists_do_not_show_other_institutions(reg, world):
    c = world.client("sun")
    for path, key in [("/institutions", "name"), ("/practitioners", "name"), ("/lots", "lot_no")]:
        items = c.get(BASE + path).json()["items"]
        assert all(item[key] not in ("甲诊所", "李医生", reg.lot.lot_no) for item in items), path
    assert [i["id"] for i in c.get(BASE + "/lots").json()["items"]] == [reg.outsider_lot.pk]
    assert [i["id"] for i in c.get(BASE + "/devices").json()["items"]] == [reg.outsider_device.pk]
    page = c.get("/registry/practitioners/").content.decode()
    assert "李医生" not in page and "孙医生" in page
    page = c.get("/registry/lots/").content.decode()
    assert reg.lot.lot_no not in page and reg.outsider_lot.lot_no in page


def test_auditor_reads_overseen_institution(reg, world):
    c = world.client("qian")
    assert c.get(f"{BASE}/institutions/{reg.jia.pk}").status_code == 200
    assert c.get(f"{BASE}/practitioners/{reg.li.pk}").status_code == 200
    assert c.get(f"/registry/practitioners/{reg.li.pk}/").status_code == 200
    assert c.get(f"{BASE}/institutions/{reg.yi.pk}").status_code == 404  # not overseen
    names = [i["name"] for i in c.get(f"{BASE}/institutions").json()["items"]]
    assert names == ["甲诊所"]


def test_auditor_cannot_write_anything(reg, world):
    c = world.client("qian")
    audit_count = AuditEntry.objects.count()
    # Updates of rows the auditor can see: 404 (not in writable_by).
    r = c.patch(
        f"{BASE}/institutions/{reg.jia.pk}", data=json.dumps({"city": "X"}), content_type="application/json"
    )
    assert r.status_code == 404
    r = c.post(
        f"{BASE}/practitioners/{reg.li.pk}/status",
        data=json.dumps({"status": "left"}),
        content_type="application/json",
    )
    assert r.status_code == 404
    r = c.post(
        f"{BASE}/qualifications/{reg.qualification.pk}/verify",
        data=json.dumps({"status": "verified"}),
        content_type="application/json",
    )
    assert r.status_code == 404
    # Creates under a visible parent: 403.
    r = c.post(
        f"{BASE}/lots",
        data=json.dumps(
            {
                "institution_id": reg.jia.pk,
                "product_id": reg.product.pk,
                "lot_no": "Q1",
                "expiry_date": "2027-01-01",
                "unit": "piece",
            }
        ),
        content_type="application/json",
    )
    assert r.status_code == 403
    assert r.json()["field"] == "institution_id"
    # Pages: edit forms are 404.
    assert c.get(f"/registry/institutions/{reg.jia.pk}/edit/").status_code == 404
    assert c.post(f"/registry/practitioners/{reg.li.pk}/status/", {"status": "left"}).status_code == 404
    assert AuditEntry.objects.count() == audit_count
    assert Institution.objects.get(pk=reg.jia.pk).city == "长沙"
    assert not Lot.objects.filter(lot_no="Q1").exists()


def test_doctor_cannot_write(reg, world):
    c = world.client("li")
    assert c.get(f"{BASE}/practitioners/{reg.li.pk}").status_code == 200
    r = c.patch(
        f"{BASE}/practitioners/{reg.li.pk}",
        data=json.dumps({"title": "chief"}),
        content_type="application/json",
    )
    assert r.status_code == 404
    r = c.post(
        f"{BASE}/practitioners",
        data=json.dumps(
            {
                "main_institution_id": reg.jia.pk,
                "name": "X",
                "id_number": reg.li.id_number,
                "profession": "doctor",
            }
        ),
        content_type="application/json",
    )
    assert r.status_code == 403
    assert Practitioner.objects.get(pk=reg.li.pk).title == "attending"


def test_multi_site_host_reads_the_visiting_practitioner(reg, world):
    from .factories import PractitionerSiteFactory

    assert world.client("sun").get(f"{BASE}/practitioners/{reg.li.pk}").status_code == 404
    PractitionerSiteFactory(practitioner=reg.li, institution=reg.yi)
    c = world.client("sun")
    assert c.get(f"{BASE}/practitioners/{reg.li.pk}").status_code == 200
    assert c.get(f"{BASE}/qualifications/{reg.qualification.pk}").status_code == 200
    r = c.patch(
        f"{BASE}/practitioners/{reg.li.pk}", data=json.dumps({"name": "X"}), content_type="application/json"
    )
    assert r.status_code == 404


def test_reference_data_is_shared_but_written_only_by_the_supplier(reg, world):
    c = world.client("sun")
    assert c.get(f"{BASE}/products/{reg.product.pk}").status_code == 200
    assert c.get(f"{BASE}/suppliers/{reg.supplier.pk}").status_code == 200
    r = c.patch(
        f"{BASE}/products/{reg.product.pk}",
        data=json.dumps({"brand_name": "X"}),
        content_type="application/json",
    )
    assert r.status_code == 404
    r = world.client("zhou").patch(
        f"{BASE}/products/{reg.product.pk}",
        data=json.dumps({"brand_name": "新品牌"}),
        content_type="application/json",
    )
    assert r.status_code == 200
    assert r.json()["brand_name"] == "新品牌"


def test_audit_history_on_pages_is_tenant_scoped(reg, world):
    from meiguard.registry import actions

    actions.update_institution(world.actor("wang"), reg.jia.pk, city="株洲")
    page = world.client("qian").get(f"/registry/institutions/{reg.jia.pk}/").content.decode()
    assert "registry.institution.updated" in page
    assert "株洲" in page
