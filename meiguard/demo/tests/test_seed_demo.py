import datetime as dt

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from meiguard.audit import log as audit
from meiguard.authz.models import Authorization
from meiguard.core.models import Organization, User
from meiguard.registry.models import Device, Institution, Lot, Practitioner, Qualification
from meiguard.registry.queries import permitted_grade


@pytest.fixture
def demo(db, capsys):
    call_command("seed_demo")
    return capsys.readouterr().out


def test_it_prints_one_login_per_role(demo):
    for username in ("admin", "wang", "zhao", "zhou", "wu", "li", "zhang", "qian", "chen", "sun"):
        assert f"  {username} " in demo
    assert "Meiguard-demo-2026" in demo
    roles = set(User.objects.values_list("memberships__role", flat=True))
    assert roles >= {
        "platform_admin",
        "institution_admin",
        "compliance_officer",
        "medical_director",
        "procurement",
        "doctor",
        "nurse",
        "auditor",
        "supplier_admin",
    }


def test_demo_logins_work(demo):
    c = Client()
    assert c.login(username="zhao", password="Meiguard-demo-2026")
    assert c.get("/").status_code == 200


def _clinical_counts() -> tuple[int, ...]:
    from meiguard.clinical.models import Case, Client, ConsentSignature, PrivacyConsent, Review, Usage

    return tuple(m.objects.count() for m in (Client, PrivacyConsent, Case, ConsentSignature, Review, Usage))


def test_it_is_idempotent(demo, capsys):
    counts = (Institution.objects.count(), Practitioner.objects.count(), Authorization.objects.count())
    clinical = _clinical_counts()
    call_command("seed_demo")
    assert "已存在" in capsys.readouterr().out
    assert (
        Institution.objects.count(),
        Practitioner.objects.count(),
        Authorization.objects.count(),
    ) == counts
    assert _clinical_counts() == clinical and clinical[0] == 4


def test_the_clinical_demo(demo):
    """A closed grade-1 injection case with its lot usages (and so a look-back), a case at the consultation,
    and a grade-3 case at 湘江 waiting for its committee; every client with the PIPL consent, labelled 演示数据."""
    from meiguard.clinical import queries
    from meiguard.clinical.models import Case, PrivacyConsent, Usage
    from meiguard.clinical.models import Client as ClinicalClient
    from meiguard.core.access import build_actor

    assert "临床演示数据已就绪" in demo
    for client in ClinicalClient.objects.all():
        assert "演示数据" in client.medical_history
        assert PrivacyConsent.objects.filter(client=client, withdrawn_at__isnull=True).exists()
    closed = Case.objects.get(client__name="陈女士")
    assert (closed.grade, closed.invasiveness, closed.status) == (1, "injection", "closed")
    assert closed.record.closed_at is not None
    lot = Lot.objects.get(lot_no="HL20260315")
    assert sum(u.dose_value for u in Usage.objects.filter(case=closed, lot=lot)) == 40
    rows = queries.clients_of_lot(build_actor(User.objects.get(username="zhao")), lot.pk)
    assert [r.client_name for r in rows] == ["陈女士", "陈女士"]
    assert Case.objects.get(client__name="刘女士").consultation.signed_at is None
    lift = Case.objects.get(client__name="林女士")
    assert (lift.grade, lift.invasiveness, lift.anesthesia, lift.institution.name) == (
        3,
        "surgical",
        "general",
        "湘江整形美容医院",
    )
    assert lift.assessment.chief_signed_at and lift.assessment.anesthetist_signed_at
    assert (lift.review.kind, lift.review.status, lift.review.required_approvals) == (
        "committee",
        "pending",
        2,
    )
    assert lift.review.discussion
    c = Client()
    assert c.login(username="huang", password="Meiguard-demo-2026")
    assert "全颜面及颌颈部除皱术" in c.get(f"/clinical/cases/{lift.pk}/").content.decode()


def test_the_world_has_the_promised_shape(demo):
    today = timezone.localdate()
    assert Organization.objects.filter(kind="oversight").count() == 1
    assert Organization.objects.get(kind="oversight").oversees.count() == 3
    insts = {i.institution_type: i for i in Institution.objects.all()}
    assert insts["aesthetic_clinic"].subjects == ["cosmetic_dermatology"]
    assert sorted(insts["aesthetic_outpatient_dept"].subjects) == ["cosmetic_dermatology", "cosmetic_surgery"]
    assert permitted_grade(insts["aesthetic_clinic"]).grade == 0
    assert permitted_grade(insts["aesthetic_outpatient_dept"]).grade == 2
    assert permitted_grade(insts["cosmetic_hospital"]).grade == 3
    assert 14 <= Practitioner.objects.count() <= 20
    assert Qualification.objects.filter(
        kind="practice_licence", valid_until=today + dt.timedelta(days=20)
    ).exists()
    assert Practitioner.objects.filter(status="suspended").exists()
    assert Practitioner.objects.filter(
        practice_scope="皮肤病与性病", qualifications__kind="chief_physician_filing"
    ).exists()
    assert Qualification.objects.filter(kind="nurse_training_hours", hours__lt=160).exists()
    assert Practitioner.objects.filter(sites__isnull=False).exists()
    assert Lot.objects.filter(status="recalled").exists()
    assert Lot.objects.filter(expiry_date__lt=today).exists()
    assert Lot.objects.filter(product__category="botulinum_toxin_a").exists()
    assert Lot.objects.filter(product__category="hyaluronic_acid").values("product").distinct().count() == 2
    assert any(d.is_overdue(today) for d in Device.objects.all())
    assert Authorization.objects.filter(status="suspended").exists()
    assert Authorization.objects.filter(status="expired").exists()
    # Inventory: a delivery with one rejected line, stock from the ledger, ten trace codes in stock.
    from meiguard.inventory.models import ReceiptLine, StockMovement, TraceCode

    assert ReceiptLine.objects.filter(status="rejected").count() == 1
    assert ReceiptLine.objects.filter(status="accepted").count() == 2
    assert TraceCode.objects.filter(status="received").count() == 10
    toxin = Lot.objects.get(lot_no="HL20260315")
    assert (
        toxin.quantity
        == sum(StockMovement.objects.filter(lot=toxin).values_list("quantity", flat=True))
        == 10
    )


def test_every_demo_write_is_audited_and_the_chains_verify(demo):
    from meiguard.audit.models import AuditEntry

    assert AuditEntry.objects.count() > 100
    assert audit.verify() == []
