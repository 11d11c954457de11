"""An inventory on top of the clinical world: 甲's locked fridge and second cabinet (the toxin is a high-risk
drug: only high-risk cabinets hold it, DD-01), an ordinary shelf, the toxin supplier (衡力,
authorised to distribute), the toxin flagged cold chain, and helpers that receive a box with trace codes."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from meiguard.authz.tests.conftest import FAR, SYSTEM
from meiguard.clinical import actions as clinical
from meiguard.clinical.models import Case
from meiguard.clinical.tests.conftest import TOXIN, Clin, clin, clinic  # noqa: F401  (fixtures)
from meiguard.inventory import actions
from meiguard.inventory.models import Receipt, ReceiptLine, StorageLocation
from meiguard.registry import actions as reg

_codes = itertools.count(1)
_notes = itertools.count(1)


def trace_codes(n: int) -> list[str]:
    """n distinct 20-digit drug trace codes (8 + 7-digit drug code + unit serial)."""
    return [f"8{6901234:07d}{next(_codes):012d}" for _ in range(n)]


@dataclass
class Inv:
    clin: Clin
    fridge: StorageLocation
    shelf: StorageLocation
    ordinary: StorageLocation

    @property
    def clinic(self) -> Any:
        return self.clin.clinic

    def actor(self, name: str) -> Any:
        return self.clin.actor(name)

    def line(self, **data: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "product_id": self.clinic.toxin.pk,
            "lot_no": "T2026R1",
            "expiry_date": FAR,
            "production_date": dt.date(2026, 1, 5),
            "unit": "piece",
            "quantity": 2,
            "location_id": self.fridge.pk,
            "temperature_c": Decimal("4.5"),
            "packaging_intact": True,
        }
        base.update(data)
        if "trace_codes" not in base and "code" not in base and "manual_reason" not in base:
            base["manual_reason"] = "外包装条码破损无法扫描"
        return base

    def receive(self, *lines: dict[str, Any], by: str = "zhao") -> Receipt:
        return actions.create_receipt(
            self.actor(by),
            institution_id=self.clinic.jia.pk,
            supplier_id=self.clinic.toxin.supplier_id,
            delivery_note_no=f"SH2026-{next(_notes):05d}",
            lines=list(lines),
        )

    def box(self, n: int = 5, **data: Any) -> tuple[ReceiptLine, list[str]]:
        """A received and accepted box of n toxin vials, each with its trace code."""
        codes = trace_codes(n)
        receipt = self.receive(self.line(trace_codes=codes, quantity=n, **data))
        line = receipt.lines.get()
        return actions.accept_line(self.actor("zhao"), line.pk), codes

    def open_case(self) -> Case:
        case = self.clin.ready(TOXIN)
        clinical.open_record(self.actor("li"), case.pk)
        return case

    def issue(
        self, lot_id: int, n: int = 1, *, case: Case | None = None, location: StorageLocation | None = None
    ) -> Any:
        """A confirmed two-person issue (赵 asks, 王 confirms) of n units from the cabinet."""
        from meiguard.inventory import highrisk

        req = highrisk.request_issue(
            self.actor("zhao"),
            lot_id=lot_id,
            location_id=(location or self.fridge).pk,
            quantity=Decimal(n),
            purpose="肉毒素注射",
            case_id=case.pk if case else None,
        )
        return highrisk.confirm_issue(self.actor("wang"), req.pk)

    def use(self, case: Case, code: str, key: str = "", *, issue: bool = True) -> Any:
        """Scan ``code`` into the case. A high-risk unit is used only out of a confirmed two-person issue: with
        ``issue`` (the default) one unit is issued for the case first when no issued unit is left to scan."""
        if issue:
            self._issue_for(case, code)
        return clinical.add_usage(
            self.actor("li"),
            case.pk,
            usage_key=key or f"scan-{code}",
            code=code,
            dose_value=Decimal(40),
            dose_unit="U",
        )

    def _issue_for(self, case: Case, code: str) -> None:
        from django.db.models import F, Q

        from meiguard.inventory.choices import HIGH_RISK_DRUG_CATEGORIES
        from meiguard.inventory.models import IssueRequest, TraceCode

        unit = TraceCode.objects.filter(code=code, status="received").select_related("lot__product").first()
        if unit is None or unit.lot.product.category not in HIGH_RISK_DRUG_CATEGORIES:
            return
        left = IssueRequest.objects.filter(
            Q(case_id=case.pk) | Q(case__isnull=True),
            lot_id=unit.lot_id,
            status="confirmed",
            scanned__lt=F("quantity"),
        )
        if not left.exists():
            self.issue(unit.lot_id, 1, case=case, location=unit.location)


def make_inv(clin_: Clin) -> Inv:
    reg.update_product(SYSTEM, clin_.clinic.toxin.pk, cold_chain=True)
    clin_.clinic.toxin.refresh_from_db()
    zhao = clin_.actor("zhao")
    jia = clin_.clinic.jia.pk
    fridge = actions.create_location(zhao, institution_id=jia, name="药房冷藏柜", kind="high_risk")
    shelf = actions.create_location(zhao, institution_id=jia, name="毒麻药品专柜 B", kind="high_risk")
    ordinary = actions.create_location(zhao, institution_id=jia, name="耗材库 A 架", kind="ordinary")
    return Inv(clin_, fridge, shelf, ordinary)


@pytest.fixture
def inv(clin: Clin) -> Inv:  # noqa: F811
    return make_inv(clin)
