"""A real race: two workers deliver the same reminder at the same moment, in their own transactions."""

import threading

import pytest
from django.db import connection

from meiguard.lifecycle import actions
from meiguard.lifecycle.models import Reminder
from meiguard.lifecycle.queries import QualificationSource
from meiguard.notify.models import Notification

from .conftest import ON, expire_licence_in


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_deliver_one_reminder(c, monkeypatch):
    q = expire_licence_in(c, 7)
    barrier = threading.Barrier(2, timeout=20)
    original = QualificationSource.recipients

    def recipients_then_meet(self, row):
        people = original(self, row)
        barrier.wait()  # both workers have read the item and are about to claim the ledger row
        return people

    monkeypatch.setattr(QualificationSource, "recipients", recipients_then_meet)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker():
        try:
            results.append(actions.deliver_reminder("qualification", q.pk, 7, q.valid_until, on=ON))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # The winner told li and zhao. The loser found the ledger row taken (PostgreSQL: its INSERT waited for the
    # winner's commit, then hit the unique constraint). The in-memory SQLite test database uses shared-cache
    # table locks that do not wait, so there the loser fails loudly instead (its task would be retried and
    # then find the row): either way, never a second delivery.
    if connection.vendor == "sqlite" and errors:
        assert results == [2]
        assert [type(e).__name__ for e in errors] == ["OperationalError"] and "locked" in str(errors[0])
    else:
        assert errors == []
        assert sorted(results) == [0, 2]
    assert Reminder.objects.count() == 1
    assert Notification.objects.count() == 2
