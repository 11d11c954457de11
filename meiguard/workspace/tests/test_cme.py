"""The doctor's CME panel (PR-08): this year's credits per class against the rule pack's yearly total."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from meiguard.registry import actions as reg
from meiguard.workspace import queries

from . import helpers as h

pytestmark = pytest.mark.django_db


def progress(clinic):
    return queries.cme_progress(clinic.world.actor("li"), clinic.li, timezone.localdate())


def test_credits_count_per_class_against_the_packs_total(clinic):
    h.cme(clinic, "6", "class_i")
    h.cme(clinic, "10", "class_ii")
    h.cme(clinic, "5.5", "class_ii", verified=False)
    p = progress(clinic)
    assert p.required == Decimal(25) and p.rule_id == "PR-08.cme-credits"
    assert p.rule_label == "全国基线 v1 · 《继续医学教育学分授予与管理办法》"
    one, two = p.classes
    assert (one.key, one.earned, one.minimum, one.maximum, one.met) == ("class_i", 6, 5, 10, True)
    assert (two.key, two.earned, two.unverified, two.met, two.missing) == (
        "class_ii",
        Decimal("15.5"),
        Decimal("5.5"),
        True,
        0,
    )
    assert p.counted == Decimal("21.5") and not p.met and p.missing == Decimal("3.5")
    assert p.percent == 86


def test_a_class_counts_only_up_to_its_maximum_and_cannot_stand_in_for_the_other(clinic):
    h.cme(clinic, "30", "class_ii")
    p = progress(clinic)
    assert p.earned == 30 and p.counted == 20  # class II counts at most 20
    assert not p.met and not p.classes[0].met and p.classes[0].missing == 5
    h.cme(clinic, "5", "class_i")
    assert progress(clinic).met


def test_rejected_credits_and_other_years_do_not_count(clinic):
    rejected = h.cme(clinic, "8", "class_i", verified=False)
    reg.verify_qualification(h.SYSTEM, rejected.pk, status="rejected", note="证书不符")
    h.cme(clinic, "9", "class_i", year=timezone.localdate().year - 1)
    assert progress(clinic).earned == 0


def test_without_a_rule_pack_the_regulations_figure_is_used(clinic, monkeypatch):
    from meiguard.rules import services

    def no_pack(province, on):
        raise services.NoActivePack(province, on)

    monkeypatch.setattr(services, "resolve", no_pack)
    p = progress(clinic)
    assert p.required == 25 and p.rule_id == "PR-08.cme-credits" and p.rule_label == ""
    assert p.rule_source == "《继续医学教育学分授予与管理办法》"


def test_the_panel_shows_both_classes_and_the_rule(clinic):
    h.cme(clinic, "6", "class_i")
    h.cme(clinic, "12", "class_ii")
    html = clinic.world.client("li").get("/").content.decode()
    panel = html[html.index('id="panel-cme"') :]
    panel = panel[: panel.index("</section>")]
    assert '<strong class="n warn">18</strong> / 25' in panel
    assert "I类学分" in panel and "II类学分" in panel and "5–10 分" in panel and "15–20 分" in panel
    assert "差 3 分" in panel and "尚差 7 分" in panel
    assert "《继续医学教育学分授予与管理办法》" in panel and "全国基线 v1" in panel
    assert 'aria-valuenow="18.0"' in panel and 'aria-valuemax="25.0"' in panel


def test_nurses_get_no_cme_panel(clinic):
    html = clinic.world.client("zhang").get("/").content.decode()
    assert 'id="panel-cme"' not in html
