"""Detail pages show the object's history from the audit trail; the practitioner's covers the whole record."""

from __future__ import annotations

import re

import pytest

from meiguard.authz.tests.conftest import SYSTEM
from meiguard.registry import actions as reg

pytestmark = pytest.mark.django_db


def history(html: str) -> str:
    m = re.search(r'<h2 id="(?:history|hist)-h">.*?</section>', html, re.S)
    assert m, "no history section"
    return m.group(0)


def test_every_registry_and_authz_detail_page_has_a_history(clinic):
    c = clinic.world.client("zhao")
    for url in (
        f"/registry/institutions/{clinic.jia.pk}/",
        f"/registry/practitioners/{clinic.li.pk}/",
        f"/registry/products/{clinic.toxin.pk}/",
        f"/registry/lots/{clinic.lot.pk}/",
        f"/registry/devices/{clinic.device.pk}/",
        f"/authz/authorizations/{clinic.auths['procedure'].pk}/",
    ):
        html = c.get(url).content.decode()
        assert "变更记录" in history(html), url
    lot = history(c.get(f"/registry/lots/{clinic.lot.pk}/").content.decode())
    assert "registry.lot.created" in lot


def test_the_practitioner_page_shows_the_history_of_credentials_and_sites_too(clinic):
    quals = list(clinic.li.qualifications.all())
    reg.verify_qualification(SYSTEM, quals[-1].pk, status="verified", note="原件核对")
    reg.create_practitioner_site(
        SYSTEM, institution_id=clinic.yi.pk, practitioner_id=clinic.li.pk, valid_from=quals[0].valid_from
    )
    html = history(
        clinic.world.client("zhao").get(f"/registry/practitioners/{clinic.li.pk}/").content.decode()
    )
    assert "registry.practitioner.created" in html
    assert "registry.qualification.verified" in html and "registry.qualification.created" in html
    assert '<th scope="col">对象</th>' in html  # says which part of the record each entry is about
    # the registration at 乙 is written in 乙's audit chain: sun, who now reads 李医生's record through it, sees
    # that entry, but not 甲's checks of his credentials
    sun_page = clinic.world.client("sun").get(f"/registry/practitioners/{clinic.li.pk}/").content.decode()
    visible_to_sun = history(sun_page)
    assert "registry.practitionersite.created" in visible_to_sun
    assert "registry.qualification.verified" not in visible_to_sun  # 甲's chain, not sun's


def test_long_creation_entries_fold_their_fields(clinic):
    html = history(
        clinic.world.client("zhao").get(f"/registry/institutions/{clinic.jia.pk}/").content.decode()
    )
    assert re.search(r"<details><summary>\d+ 个字段</summary>", html)
