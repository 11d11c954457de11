"""Race safety: two people acting at the same instant cannot both finalize, and a double submit opens one
round. Real threads on real connections (``transaction=True``), released together by a barrier; on
PostgreSQL the application row lock decides, on SQLite the IMMEDIATE transaction does."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import OperationalError, close_old_connections, connection

from meiguard.audit.models import AuditEntry
from meiguard.authz.models import Authorization
from meiguard.core.errors import ActionError
from meiguard.workflow import actions
from meiguard.workflow.models import Application, ApprovalStep, ApprovalVote

from .conftest import HIGH

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting(call: Callable[[], Any]) -> Any:
    """Call, waiting for the other writer as a database busy timeout would.

    The SQLite test database is in memory with a shared cache, where a second writer gets "database table
    is locked" at once instead of waiting out the busy timeout (as it does on a file database); the
    transaction has rolled back by then, so trying again is that wait. PostgreSQL waits on the row lock
    itself and never takes this path.
    """
    for _ in range(200):
        try:
            return call()
        except OperationalError as exc:
            if connection.vendor != "sqlite" or "locked" not in str(exc):
                raise
            time.sleep(0.05)
    raise AssertionError("the other writer never released the database")


def _race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at once in threads; each result is the return value or the ActionError raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        close_old_connections()
        try:
            barrier.wait(timeout=10)
            results[i] = _waiting(call)
        except Exception as exc:  # an ActionError is an expected outcome; anything else fails the asserts
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def _approved_entries(app: Application) -> int:
    return AuditEntry.objects.filter(
        action="workflow.application.approved", object_type="workflow.application", object_id=str(app.pk)
    ).count()


def _one_won(results: list[Any], loser_code: str) -> None:
    wins = [r for r in results if isinstance(r, Application)]
    losses = [r for r in results if isinstance(r, ActionError)]
    assert len(wins) == 1, results
    assert len(losses) == 1 and losses[0].code == loser_code and losses[0].status == 409, results


def test_two_committee_members_cannot_both_finalize(wf):
    wf.with_committee(quorum=2)
    app = wf.submitted(procedure_code=HIGH)
    wf.vote("ma", app)  # 医务科
    wf.vote("zhao", app)  # 授权专员
    wf.vote("zhou", app)  # committee: 1 of the 2 approvals
    step = wf.open_step(app)
    assert step.stage == "expert_committee"

    results = _race(
        lambda: actions.act(wf.actor("wang"), step.pk, verdict="approve"),
        lambda: actions.act(wf.actor("he"), step.pk, verdict="approve"),
    )

    _one_won(results, "STEP_NOT_OPEN")
    app.refresh_from_db()
    assert app.status == "approved"
    assert Authorization.objects.filter(practitioner=wf.li, procedure_code=HIGH).count() == 1
    assert app.authorization.status == "active"
    assert _approved_entries(app) == 1
    assert ApprovalVote.objects.filter(step=step, verdict="approve").count() == 2  # zhou + the winner


def test_two_medical_directors_cannot_both_finalize(wf):
    app = wf.submitted()
    step = wf.open_step(app)

    results = _race(
        lambda: actions.act(wf.actor("zhou"), step.pk, verdict="approve"),
        lambda: actions.act(wf.actor("ma"), step.pk, verdict="approve"),
    )

    _one_won(results, "STEP_NOT_OPEN")
    assert Authorization.objects.filter(practitioner=wf.li).count() == 1
    assert _approved_entries(app) == 1
    assert ApprovalVote.objects.filter(step=step).count() == 1


def test_a_double_submit_opens_one_round(wf):
    app = wf.draft()

    results = _race(
        lambda: actions.submit(wf.actor("li"), app.pk),
        lambda: actions.submit(wf.actor("li"), app.pk),
    )

    _one_won(results, "INVALID_STATE")
    app.refresh_from_db()
    assert (app.status, app.round) == ("in_review", 1)
    assert ApprovalStep.objects.filter(application=app).count() == 1
    assert (
        AuditEntry.objects.filter(action="workflow.application.submitted", object_id=str(app.pk)).count() == 1
    )


def test_approve_and_reject_at_once_leave_one_outcome(wf):
    app = wf.submitted()
    step = wf.open_step(app)

    results = _race(
        lambda: actions.act(wf.actor("zhou"), step.pk, verdict="approve"),
        lambda: actions.act(wf.actor("ma"), step.pk, verdict="reject", comment="资料不全"),
    )

    _one_won(results, "STEP_NOT_OPEN")
    app.refresh_from_db()
    assert app.status in ("approved", "rejected")
    assert Authorization.objects.filter(practitioner=wf.li).count() == (1 if app.status == "approved" else 0)
    assert ApprovalVote.objects.filter(step=step).count() == 1
