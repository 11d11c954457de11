"""The demo review sits on top of seed_demo and is idempotent."""

from __future__ import annotations

import io

from django.core.management import call_command

from meiguard.reviews import demo
from meiguard.reviews.choices import ItemCategory
from meiguard.reviews.models import Campaign, ChecklistItem, Finding


def test_the_demo_review_of_yamei(db):
    call_command("seed_demo", "--quiet", stdout=io.StringIO())
    out = io.StringIO()
    demo.seed(out)
    demo.seed(out)
    (campaign,) = Campaign.objects.all()
    assert campaign.institution.name == "长沙雅美医疗美容门诊部"
    assert (campaign.kind, campaign.created_by.username, campaign.status) == ("association", "qian", "open")
    cats = set(ChecklistItem.objects.filter(campaign=campaign).values_list("category", flat=True))
    assert cats == set(ItemCategory.values)  # every category has something to show
    denied = {
        i.evidence["practitioner"] for i in campaign.items.filter(category=ItemCategory.DENIED_DECISIONS)
    }
    assert {"李明", "赵强", "孙伟"} <= denied
    expiring = campaign.items.get(category=ItemCategory.EXPIRING_IN_USE)
    # The lifecycle demo moves this authorization's end into the 60-day window; alone it sits in the 30-day one.
    assert expiring.evidence["practitioner"] == "王芳" and expiring.evidence["window"] in (30, 60)
    days_left = (expiring.authorization.valid_until - campaign.created_at.date()).days
    assert days_left <= expiring.evidence["window"]
    (finding,) = Finding.objects.all()
    assert (finding.action, finding.status, finding.practitioner.name) == ("warn", "open", "李明")
    assert "已存在" in out.getvalue()
