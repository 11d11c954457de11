"""The rules generation: one database row that every transaction publishing rules bumps, in that transaction."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from meiguard.rules import actions, services
from meiguard.rules.models import RulesGeneration

from .test_impact import SYSTEM, candidate

pytestmark = pytest.mark.django_db

D = dt.date(2026, 3, 10)


def test_the_migration_creates_the_row_at_zero():
    assert RulesGeneration.objects.get(pk=1).value == 0
    assert services.current_generation() == 0


def test_publishing_bumps_it_inside_the_publishing_transaction(builtin, pack_copy):
    """Other processes see it exactly when the publish commits (not in an on_commit hook); a rollback undoes it."""
    before = services.current_generation()
    draft = candidate(pack_copy)
    with pytest.raises(RuntimeError), transaction.atomic():
        actions.publish_version(SYSTEM, "cn-national", draft.version, effective_from=D)
        assert services.current_generation() == before + 1  # already, inside the transaction
        raise RuntimeError("abort")
    assert services.current_generation() == before
    actions.publish_version(SYSTEM, "cn-national", draft.version, effective_from=D)
    assert services.current_generation() == before + 1
    actions.publish_version(SYSTEM, "cn-national", draft.version, effective_from=D)  # a no-op: no bump
    assert services.current_generation() == before + 1


def test_loading_a_draft_does_not_bump_it(builtin, pack_copy):
    before = services.current_generation()
    candidate(pack_copy)
    assert services.current_generation() == before


def test_it_reads_in_one_query(django_assert_num_queries):
    with django_assert_num_queries(1):
        services.current_generation()


def test_a_missing_row_reads_as_zero_and_is_recreated_by_a_bump():
    RulesGeneration.objects.all().delete()
    assert services.current_generation() == 0
    services.bump_generation()
    assert services.current_generation() == 1
