"""Admin: querysets restricted by visible_to, saves go through actions (validated + audited), no delete."""

import pytest

from meiguard.audit.models import AuditEntry
from meiguard.registry.models import Institution


@pytest.fixture
def staff(world):
    for name in ("wang", "sun", "qian"):
        user = world.users[name]
        user.is_staff = True
        user.save()
    return world


def test_admin_changelist_is_restricted(reg, staff):
    body = staff.client("sun").get("/admin/registry/institution/").content.decode()
    assert "乙医院" in body and "甲诊所" not in body
    body = staff.client("sun").get("/admin/registry/lot/").content.decode()
    assert reg.outsider_lot.lot_no in body and reg.lot.lot_no not in body
    assert staff.client("sun").get(f"/admin/registry/institution/{reg.jia.pk}/change/").status_code == 302


def test_admin_save_runs_the_action(reg, staff):
    c = staff.client("wang")
    url = f"/admin/registry/institution/{reg.jia.pk}/change/"
    data = {
        "name": "甲诊所",
        "credit_code": reg.jia.credit_code,
        "licence_kind": "practice_licence",
        "licence_no": reg.jia.licence_no,
        "institution_type": "aesthetic_clinic",
        "hospital_level": "",
        "subjects": ["cosmetic_dermatology"],
        "licence_valid_from": reg.jia.licence_valid_from.isoformat(),
        "licence_valid_until": reg.jia.licence_valid_until.isoformat(),
        "verification_cycle_years": "1",
        "last_verified_on": reg.jia.last_verified_on.isoformat(),
        "next_verification_due": reg.jia.next_verification_due.isoformat(),
        "province": "湖南",
        "city": "湘潭",
    }
    r = c.post(url, data)
    assert r.status_code == 302, r.content.decode()[:3000]
    assert Institution.objects.get(pk=reg.jia.pk).city == "湘潭"
    entry = AuditEntry.objects.get(action="registry.institution.updated", object_id=str(reg.jia.pk))
    assert entry.changes == {"city": ["长沙", "湘潭"]}
    data["subjects"] = ["cosmetic_surgery", "cosmetic_dermatology", "cosmetic_tcm"]
    r = c.post(url, data)
    assert r.status_code == 200  # form error, nothing saved
    assert len(Institution.objects.get(pk=reg.jia.pk).subjects) == 1


def test_auditor_cannot_change_in_admin(reg, staff):
    c = staff.client("qian")
    assert "甲诊所" in c.get("/admin/registry/institution/").content.decode()
    r = c.post(f"/admin/registry/institution/{reg.jia.pk}/change/", {"city": "X"})
    assert r.status_code == 403
    assert Institution.objects.get(pk=reg.jia.pk).city == "长沙"


def test_admin_has_no_delete(reg, staff):
    r = staff.client("wang").get(f"/admin/registry/institution/{reg.jia.pk}/delete/")
    assert r.status_code == 403
