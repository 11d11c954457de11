"""Published prices (明码标价): the staff page keeps the list, each change is dated, audited and kept in the
history, the public page shows it at once (its cached copy is dropped), and only clinical admins may edit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from meiguard.audit.models import AuditEntry
from meiguard.clinical.models import ProcedurePrice
from meiguard.clinical.tests.conftest import FILLER, TOXIN
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.public import actions
from meiguard.public.models import PriceChange
from meiguard.public.tests.conftest import Inv

pytestmark = pytest.mark.django_db


def test_a_change_is_dated_audited_and_kept(inv: Inv) -> None:
    jia = inv.clinic.jia.pk
    change = actions.publish_price(inv.actor("zhao"), jia, procedure_code=TOXIN, price=Decimal("1980"))
    assert change is not None
    assert change.old_price == Decimal("1800") and change.new_price == Decimal("1980")
    assert (
        change.changed_at == ProcedurePrice.objects.get(institution_id=jia, procedure_code=TOXIN).published_at
    )
    entry = AuditEntry.objects.get(action="public.pricechange.recorded")
    assert entry.changes["price"] == ["1800.00", "1980"]
    assert AuditEntry.objects.filter(action="clinical.procedureprice.saved").count() >= 1
    # The same price again changes nothing and writes nothing.
    assert actions.publish_price(inv.actor("zhao"), jia, procedure_code=TOXIN, price=Decimal("1980")) is None
    assert PriceChange.objects.count() == 1
    assert AuditEntry.objects.filter(action="public.pricechange.recorded").count() == 1


def test_roles_and_bounds(inv: Inv) -> None:
    jia = inv.clinic.jia.pk
    with pytest.raises(ActionError):
        actions.publish_price(inv.actor("li"), jia, procedure_code=TOXIN, price=Decimal("1"))  # a doctor
    with pytest.raises(FieldErrors):
        actions.publish_price(inv.actor("zhao"), jia, procedure_code=TOXIN, price=Decimal("-1"))
    with pytest.raises(FieldErrors):
        actions.parse_price("1.234")
    with pytest.raises(FieldErrors):
        actions.parse_price("１２")
    with pytest.raises(FieldErrors):
        actions.parse_price("NaN")
    assert actions.parse_price(" 88.5 ") == Decimal("88.5")
    assert PriceChange.objects.count() == 0


def test_staff_page_edits_and_the_public_page_follows(
    inv: Inv, anon, django_capture_on_commit_callbacks
) -> None:
    jia = inv.clinic.jia
    public_url = reverse("public:institution", args=[jia.pk])
    assert "¥4800.00" in anon.get(public_url).content.decode()  # now cached
    staff = inv.clin.world.client("zhao")
    page = staff.get(reverse("publishing:prices"))
    assert page.status_code == 200
    assert "公示价格" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            reverse("publishing:price_set", args=[jia.pk]), {"procedure_code": FILLER, "price": "4680"}
        )
    assert response.status_code == 302
    html = anon.get(public_url).content.decode()
    assert "¥4680.00" in html and "¥4800.00" in html  # the new price and, in the history, the old one
    assert "价格变更记录" in html
    history = staff.get(reverse("publishing:prices")).content.decode()
    assert "¥4680.00" in history and "zhao" in history


def test_staff_page_shows_a_bad_price_as_a_form_error(inv: Inv) -> None:
    staff = inv.clin.world.client("zhao")
    response = staff.post(
        reverse("publishing:price_set", args=[inv.clinic.jia.pk]), {"procedure_code": TOXIN, "price": "abc"}
    )
    assert response.status_code == 422
    assert "请输入数字" in response.content.decode()
    unknown = staff.post(
        reverse("publishing:price_set", args=[inv.clinic.jia.pk]), {"procedure_code": "nope", "price": "1"}
    )
    assert unknown.status_code == 404


def test_only_clinical_admins_see_and_use_the_page(inv: Inv) -> None:
    world = inv.clin.world
    assert world.client("li").get(reverse("publishing:prices")).status_code == 403
    assert world.client("qian").get(reverse("publishing:prices")).status_code == 403
    # Another institution's admin cannot change 甲's prices (foreign = not found).
    other = world.client("sun").post(
        reverse("publishing:price_set", args=[inv.clinic.jia.pk]), {"procedure_code": TOXIN, "price": "1"}
    )
    assert other.status_code == 404
    assert PriceChange.objects.count() == 0
    nav = world.client("zhao").get("/").content.decode()
    assert 'href="/publishing/prices/"' in nav
    assert 'href="/publishing/prices/"' not in world.client("li").get("/").content.decode()
