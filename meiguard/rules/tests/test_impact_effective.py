"""On its effective date a published version applies by itself: no manual step, no cache to clear.

``resolve(province, on)`` picks the highest published version with ``effective_from <= on``; the decision
engine's caches are keyed by the China calendar day of the request (people part, memoised pack) and tied to the
rules generation (bumped in the transaction that publishes a version, in the database, so every process sees it:
``test_freshness_processes.py``), so they cannot keep serving the old pack after midnight of the effective date. And the daily hook tells compliance officers whose decisions change.
"""

# ruff: noqa: F811  (pytest fixtures imported from authz's conftest and test_impact are parameters here)

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.utils import timezone, translation

from meiguard.authz import actions as authz_actions
from meiguard.authz import snapshot
from meiguard.authz.facts import CHINA_TZ
from meiguard.authz.tests.conftest import SYSTEM, TODAY, clinic, snapshot_product  # noqa: F401
from meiguard.notify.models import Notification, NotificationKind
from meiguard.rules import actions, impact, services

from .test_impact import LIMIT_150, TEMPLATE, candidate, scene  # noqa: F401

pytestmark = pytest.mark.django_db

TOMORROW = TODAY + dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def _fresh_report_cache():
    cache.clear()
    yield
    cache.clear()


def publish(version, effective_from: dt.date, capture) -> None:
    with capture(execute=True):  # as in production (the rules generation is bumped in the transaction)
        actions.publish_version(SYSTEM, version.pack.code, version.version, effective_from=effective_from)


def at(day: dt.date, hour: int = 10, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute, second), tzinfo=CHINA_TZ)


def check_180(c, when: dt.datetime | None = None):
    """李医生 injects 180 U (allowed under the 200 U limit, denied under 150 U); without ``when`` the request
    takes ``timezone.now()`` like the API and the check page."""
    products = (snapshot_product(c.lot.pk, 180),)
    if when is not None:
        return authz_actions.check(SYSTEM, c.request(products=products, at=when))
    req = authz_actions.as_request(
        institution_id=c.jia.pk,
        practitioner_id=c.li.pk,
        procedure_code="derm-botulinum-toxin-injection",
        products=products,
        device_ids=(c.device.pk,),
    )
    return authz_actions.check(SYSTEM, req)


def test_resolve_picks_a_published_version_on_its_effective_date(
    clinic, pack_copy, django_capture_on_commit_callbacks
):
    publish(candidate(pack_copy, LIMIT_150, code=TEMPLATE), TOMORROW, django_capture_on_commit_callbacks)

    assert services.resolve("湖南", TODAY).institution.version == 1
    assert services.resolve("湖南", TOMORROW).institution.version == 2
    assert services.resolve("北京", TOMORROW).version_label == "全国基线 v1 + 北京 v1 + 机构规范模板 v2"


def test_a_draft_never_applies(clinic, pack_copy):
    draft = candidate(pack_copy, LIMIT_150, code=TEMPLATE)
    assert draft.status == "draft"
    assert services.resolve("湖南", TOMORROW + dt.timedelta(days=3650)).institution.version == 1


def test_checks_switch_to_the_new_version_at_midnight_without_clearing_caches(
    clinic,
    pack_copy,
    django_capture_on_commit_callbacks,
):
    # warm every cache for today and for tomorrow under the old rules
    today_before = check_180(clinic, at(TODAY))
    tomorrow_before = check_180(clinic, at(TOMORROW))
    assert today_before.decision.allowed and tomorrow_before.decision.allowed
    assert tomorrow_before.log.rule_pack == "全国基线 v1 + 机构规范模板 v1"

    publish(candidate(pack_copy, LIMIT_150, code=TEMPLATE), TOMORROW, django_capture_on_commit_callbacks)

    today = check_180(clinic, at(TODAY, 12))
    hits = snapshot.snapshots.hits
    late_today = check_180(clinic, at(TODAY, 23, 59, 59))
    assert snapshot.snapshots.hits == hits + 1  # served from the cache: nothing was cleared
    assert today.decision.allowed and late_today.decision.allowed
    assert late_today.log.rule_pack == "全国基线 v1 + 机构规范模板 v1"

    tomorrow = check_180(clinic, at(TOMORROW, 0, 0, 1))
    assert not tomorrow.decision.allowed
    assert "DOSE_OVER_LIMIT" in tomorrow.decision.codes()
    assert tomorrow.log.rule_pack == "全国基线 v1 + 机构规范模板 v2"


def test_time_travel_past_midnight_applies_the_new_version(
    clinic,
    pack_copy,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    publish(candidate(pack_copy, LIMIT_150, code=TEMPLATE), TOMORROW, django_capture_on_commit_callbacks)
    clock = {"now": at(TODAY, 23, 59, 50)}
    monkeypatch.setattr(timezone, "now", lambda: clock["now"])

    assert timezone.localdate() == TODAY
    before = check_180(clinic)
    assert before.decision.allowed and before.log.rule_pack == "全国基线 v1 + 机构规范模板 v1"

    clock["now"] = at(TOMORROW, 0, 0, 5)
    assert timezone.localdate() == TOMORROW
    after = check_180(clinic)
    assert not after.decision.allowed
    assert after.log.rule_pack == "全国基线 v1 + 机构规范模板 v2"
    assert after.log.at == clock["now"]


# ---- the daily hook -----------------------------------------------------------------------------


def test_the_hook_notifies_compliance_officers_of_affected_institutions_once(
    scene,
    pack_copy,
    world,
    django_capture_on_commit_callbacks,
):
    version = candidate(pack_copy, LIMIT_150, code=TEMPLATE)
    publish(version, TODAY, django_capture_on_commit_callbacks)

    assert impact.notify_versions_taking_effect(TODAY - dt.timedelta(days=1)) == 0  # not in force yet
    with django_capture_on_commit_callbacks(execute=True):
        assert impact.notify_versions_taking_effect(TODAY) == 1
    assert impact.notify_versions_taking_effect(TODAY) == 0  # a second run sends nothing
    assert impact.notify_versions_taking_effect(TODAY + dt.timedelta(days=2)) == 0  # catch-up, deduplicated

    notes = list(Notification.objects.all())
    assert [(n.recipient.username, n.kind) for n in notes] == [("zhao", NotificationKind.RULES)]
    note = notes[0]
    assert "机构规范模板 v2" in note.title  # the pack by its name, not its code
    assert "甲诊所" in note.body and "1 项由允许变为不允许" in note.body
    with translation.override("en"):  # rendered in the reader's language when shown
        assert "2026-03-03" in note.display_title and "规则包" not in note.display_title
        assert "甲诊所" in note.display_body and "由允许变为不允许" not in note.display_body
    assert note.url == f"/rules/versions/{version.pk}/impact/?on={TODAY.isoformat()}"


def test_the_hook_ignores_versions_that_change_nothing_and_old_versions(
    scene,
    pack_copy,
    django_capture_on_commit_callbacks,
):
    publish(candidate(pack_copy), TODAY, django_capture_on_commit_callbacks)  # an unchanged copy
    assert impact.notify_versions_taking_effect(TODAY) == 0
    # cn-national v1 took effect in 2017: far outside the catch-up window
    assert impact.notify_versions_taking_effect(dt.date(2017, 3, 17) + dt.timedelta(days=30)) == 0
    assert not Notification.objects.exists()
