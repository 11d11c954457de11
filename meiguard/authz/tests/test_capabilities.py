"""``queries.capabilities``: what a practitioner may do, and where, with a fixed query count."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from meiguard.authz import actions, queries, snapshot
from meiguard.authz.policy import Outcome
from meiguard.core.apierrors import NotFoundField
from meiguard.registry import actions as reg

from .conftest import FAR, PAST, SYSTEM

ON = dt.date(2026, 3, 3)
TOXIN = "derm-botulinum-toxin-injection"

# Per institution: the practitioner 1 + institutions 1, then per institution the rule pack's active
# versions 1 (resolve, cached build) + the snapshot (institution, practitioner, qualifications, sites,
# authorizations, and the rule pack resolved again inside the loader).
QUERIES_ONE_INSTITUTION = 9


def _by_code(caps, inst):
    ic = next(i for i in caps if i.institution.pk == inst.pk)
    return ic, {c.procedure.code: c for c in (*ic.allowed, *ic.denied)}


def test_li_may_inject_botulinum_toxin_at_jia(clinic):
    caps = queries.capabilities(clinic.world.actor("li"), clinic.li.pk, ON)
    assert caps.practitioner == clinic.li
    assert [ic.institution for ic in caps] == [clinic.jia]
    ic, by_code = _by_code(caps, clinic.jia)
    assert ic.is_main
    assert ic.rule_pack == "全国基线 v1 + 机构规范模板 v1"
    toxin = by_code[TOXIN]
    assert toxin in ic.allowed
    assert toxin.outcome == Outcome.ALLOW
    assert toxin.decision.reasons == ()


def test_a_procedure_without_authorization_is_denied_with_authorization_missing(clinic):
    caps = queries.capabilities(clinic.world.actor("zhao"), clinic.li.pk, ON)
    ic, by_code = _by_code(caps, clinic.jia)
    filler = by_code["derm-filler-injection"]
    assert filler in ic.denied
    assert "AUTHORIZATION_MISSING" in filler.decision.codes()
    assert filler.main_reason is not None and filler.main_reason.code == "AUTHORIZATION_MISSING"
    assert filler.main_message == "没有覆盖该项目的有效授权"


def test_allowed_come_first_and_cover_only_registered_subjects(clinic):
    ic, by_code = _by_code(queries.capabilities(SYSTEM, clinic.li.pk, ON), clinic.jia)
    assert {c.procedure.subject for c in (*ic.allowed, *ic.denied)} <= set(clinic.jia.subjects)
    assert all(c.allowed for c in ic.allowed) and not any(c.allowed for c in ic.denied)
    outcomes = [c.outcome for c in ic.allowed]
    assert outcomes == sorted(outcomes, key=lambda o: o != Outcome.ALLOW)
    # products and devices are not part of the capability question
    assert not any(
        code.startswith(("LOT_", "DEVICE_", "DOSE_")) for c in by_code.values() for code in c.decision.codes()
    )


def test_warnings_are_still_allowed(clinic):
    ic, by_code = _by_code(queries.capabilities(SYSTEM, clinic.li.pk, dt.date(2030, 12, 20)), clinic.jia)
    toxin = by_code[TOXIN]
    assert toxin.outcome == Outcome.ALLOW_WITH_WARNINGS
    assert toxin in ic.allowed
    assert any("到期" in m for m in toxin.warning_messages)


def test_a_suspended_authorization_shows_as_the_main_reason(clinic, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        actions.change_status(SYSTEM, clinic.auths["procedure"].pk, action="suspend", reason="投诉核查")
    _, by_code = _by_code(queries.capabilities(SYSTEM, clinic.li.pk, ON), clinic.jia)
    assert by_code[TOXIN].main_reason.code == "AUTHORIZATION_SUSPENDED"


def test_multi_site_institutions_are_listed_when_visible_and_valid(
    clinic, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        reg.create_practitioner_site(
            SYSTEM,
            institution_id=clinic.yi.pk,
            practitioner_id=clinic.li.pk,
            valid_from=PAST,
            valid_until=FAR,
        )
    caps = queries.capabilities(SYSTEM, clinic.li.pk, ON)
    assert [(ic.institution, ic.is_main) for ic in caps] == [(clinic.jia, True), (clinic.yi, False)]
    ic, by_code = _by_code(caps, clinic.yi)
    assert by_code[TOXIN] in ic.denied  # authorized at 甲 only
    assert "AUTHORIZATION_MISSING" in by_code[TOXIN].decision.codes()
    # li's own view does not include 乙, which li cannot see
    assert [ic.institution for ic in queries.capabilities(clinic.world.actor("li"), clinic.li.pk, ON)] == [
        clinic.jia
    ]
    # outside the site's term it is not listed
    assert [ic.institution for ic in queries.capabilities(SYSTEM, clinic.li.pk, dt.date(2019, 1, 1))] == [
        clinic.jia
    ]


def test_foreign_and_unknown_practitioners_are_404(clinic):
    sun = clinic.world.actor("sun")
    with pytest.raises(NotFoundField):
        queries.capabilities(sun, clinic.li.pk, ON)
    with pytest.raises(NotFoundField):
        queries.capabilities(sun, 10**9, ON)


def test_query_count_is_pinned_and_independent_of_the_number_of_procedures(clinic, django_assert_num_queries):
    li = clinic.world.actor("li")
    queries.capabilities(li, clinic.li.pk, ON)  # warm the rule pack build cache
    snapshot.clear()
    with CaptureQueriesContext(connection) as one:
        single = queries.capabilities(li, clinic.li.pk, ON, codes=[TOXIN])
    snapshot.clear()
    with CaptureQueriesContext(connection) as many:
        everything = queries.capabilities(li, clinic.li.pk, ON)
    (ic_one,) = single.institutions
    (ic_many,) = everything.institutions
    assert len(ic_one.allowed) + len(ic_one.denied) == 1
    assert len(ic_many.allowed) + len(ic_many.denied) > 40
    assert len(one) == len(many)
    snapshot.clear()
    with django_assert_num_queries(QUERIES_ONE_INSTITUTION):
        queries.capabilities(li, clinic.li.pk, ON)


def test_a_warm_snapshot_saves_the_loader_queries(clinic, django_assert_num_queries):
    li = clinic.world.actor("li")
    queries.capabilities(li, clinic.li.pk, ON)
    with django_assert_num_queries(4):  # practitioner, institutions, rule pack versions, rules generation
        queries.capabilities(li, clinic.li.pk, ON)


def test_the_practitioner_page_loads_the_capability_list(clinic):
    page = clinic.world.client("zhao").get(f"/registry/practitioners/{clinic.li.pk}/")
    assert page.status_code == 200
    url = f"/authz/practitioners/{clinic.li.pk}/capabilities/"
    assert f'hx-get="{url}"' in page.content.decode()
    partial = clinic.world.client("zhao").get(url, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert (
        "derm-botulinum-toxin-injection" in partial.content.decode()
        or "A型肉毒毒素" in partial.content.decode()
    )
