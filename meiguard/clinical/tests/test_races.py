"""Race safety: two devices signing the same checklist node party or adding the same usage at the same instant
never double-record. Real threads on real connections, released together by a barrier (as workflow's)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import OperationalError, close_old_connections, connection

from meiguard.clinical import actions, policy
from meiguard.clinical.models import ChecklistNode, OperationRecord, Usage

from .conftest import BREAST, TOXIN

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting(call: Callable[[], Any]) -> Any:
    for _ in range(200):
        try:
            return call()
        except OperationalError as exc:  # SQLite's in-memory shared cache: "table is locked" at once
            if connection.vendor != "sqlite" or "locked" not in str(exc):
                raise
            time.sleep(0.05)
    raise AssertionError("the other writer never released the database")


def _race(*calls: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        close_old_connections()
        try:
            barrier.wait(timeout=10)
            results[i] = _waiting(call)
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_two_devices_signing_the_same_node_party_record_one_signature(clin):
    case = clin.case(BREAST)
    clin.consult(case)
    clin.consent(case)
    clin.assess(case)
    clin.review(case)
    node = policy.NODES[0]
    items = dict.fromkeys(policy.node_item_ids(node), True)

    def sign() -> Any:
        return actions.sign_checklist_node(
            clin.actor("zhou"), case.pk, node=node, party="surgeon", items=items, scanned=[case.code]
        )

    results = _race(sign, sign)
    wins = [r for r in results if isinstance(r, ChecklistNode)]
    losses = [r for r in results if isinstance(r, actions.ActionError)]
    assert len(wins) == 1 and len(losses) == 1 and losses[0].code == "ALREADY_SIGNED", results
    assert ChecklistNode.objects.filter(case=case, node=node).count() == 1


def test_two_devices_adding_the_same_usage_record_it_once(clin):
    case = clin.ready(TOXIN)
    actions.open_record(clin.actor("li"), case.pk)
    lot = clin.clinic.lot

    def add() -> Any:
        return actions.add_usage(
            clin.actor("li"),
            case.pk,
            usage_key="scan-42",
            lot_id=lot.pk,
            dose_value=Decimal(40),
            dose_unit="U",
        )

    results = _race(add, add)
    assert all(isinstance(r, Usage) for r in results), results
    assert results[0].pk == results[1].pk
    assert Usage.objects.filter(case=case).count() == 1


def test_two_devices_opening_the_gate_open_one_record(clin):
    case = clin.ready(TOXIN)
    results = _race(
        lambda: actions.open_record(clin.actor("li"), case.pk),
        lambda: actions.open_record(clin.actor("li"), case.pk),
    )
    assert len([r for r in results if isinstance(r, OperationRecord)]) == 1, results
    assert OperationRecord.objects.filter(case=case).count() == 1
