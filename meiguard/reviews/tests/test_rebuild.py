"""Building the checklist is idempotent; a rebuild refreshes data-derived items and keeps recorded work."""

from __future__ import annotations

from meiguard.audit.models import AuditEntry
from meiguard.reviews import actions
from meiguard.reviews.choices import ItemCategory, ItemStatus
from meiguard.reviews.models import ChecklistItem

from .conftest import TODAY, at, deny_missing, full_cme


def _keys(campaign) -> set[str]:
    return set(ChecklistItem.objects.filter(campaign=campaign).values_list("key", flat=True))


def test_building_twice_changes_nothing(clinic, campaign):
    qian = clinic.world.actor("qian")
    deny_missing(clinic)
    first = actions.rebuild_checklist(qian, campaign.pk, today=TODAY)
    assert (
        first.created == ChecklistItem.objects.filter(campaign=campaign).count() == 20
    )  # 1 + 1 CME + 12 monthly + 6 inventory checks
    rows = list(ChecklistItem.objects.filter(campaign=campaign).order_by("pk").values())
    second = actions.rebuild_checklist(qian, campaign.pk, today=TODAY)
    assert (second.created, second.updated, second.removed, second.unchanged) == (0, 0, 0, 20)
    again = list(ChecklistItem.objects.filter(campaign=campaign).order_by("pk").values())
    for a, b in zip(rows, again, strict=True):
        a.pop("updated_at"), b.pop("updated_at")
    assert rows == again
    # one audit entry for the first build, none for the no-op
    assert (
        AuditEntry.objects.filter(action="reviews.campaign.rebuilt", object_id=str(campaign.pk)).count() == 1
    )


def test_a_rebuild_refreshes_counts_and_keeps_findings_and_checks(clinic, campaign):
    qian = clinic.world.actor("qian")
    deny_missing(clinic, at(2026, 2, 1))
    actions.rebuild_checklist(qian, campaign.pk, today=TODAY)
    denied = ChecklistItem.objects.get(campaign=campaign, category=ItemCategory.DENIED_DECISIONS)
    monthly = ChecklistItem.objects.filter(campaign=campaign, category=ItemCategory.MONTHLY_CHECK).first()
    assert monthly is not None
    finding = actions.raise_finding(qian, campaign.pk, item_id=denied.pk, description="多次超范围核验")
    actions.mark_item_ok(qian, monthly.pk, note="已核对")

    deny_missing(clinic, at(2026, 3, 5))
    result = actions.rebuild_checklist(qian, campaign.pk, today=TODAY)
    assert result.updated == 1 and result.created == 0
    denied.refresh_from_db()
    monthly.refresh_from_db()
    assert denied.evidence_count == 2 and denied.status == ItemStatus.FINDING
    assert list(denied.findings.values_list("pk", flat=True)) == [finding.pk]
    assert (monthly.status, monthly.note) == (ItemStatus.OK, "已核对")


def test_items_the_data_no_longer_produces_go_unless_work_was_recorded_on_them(clinic, campaign):
    qian = clinic.world.actor("qian")
    actions.rebuild_checklist(qian, campaign.pk, today=TODAY)
    cme = ChecklistItem.objects.get(campaign=campaign, category=ItemCategory.TRAINING_SHORT)
    assert cme.practitioner_id == clinic.li.pk
    full_cme(clinic.li)  # 李医生 catches up: the CME item no longer derives
    result = actions.rebuild_checklist(qian, campaign.pk, today=TODAY)
    assert result.removed == 1
    assert not ChecklistItem.objects.filter(pk=cme.pk).exists()


def test_an_item_with_a_finding_is_kept_as_stale(clinic, campaign):
    qian = clinic.world.actor("qian")
    actions.rebuild_checklist(qian, campaign.pk, today=TODAY)
    cme = ChecklistItem.objects.get(campaign=campaign, category=ItemCategory.TRAINING_SHORT)
    actions.raise_finding(
        qian, campaign.pk, item_id=cme.pk, description="学分不足", action="retrain", today=TODAY
    )
    full_cme(clinic.li)
    result = actions.rebuild_checklist(qian, campaign.pk, today=TODAY)
    assert (result.removed, result.kept_stale) == (0, 1)
    cme.refresh_from_db()
    assert cme.is_current is False and cme.status == ItemStatus.FINDING
    assert f"cme:{clinic.li.pk}:2026" in _keys(campaign)
