"""During the record: usage by scan with actual doses re-checked by the engine, closing, and the lot look-back."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from meiguard.audit.models import AuditEntry
from meiguard.clinical import actions, queries
from meiguard.clinical.models import Usage
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.registry import actions as reg
from meiguard.registry.tests.factories import gtin

from .conftest import BREAST, FAR, FILLER, PAST, SYSTEM, TOXIN, authorize


@pytest.fixture
def filler(clin):
    """乔雅登 (HA, Class III device) with UDI-DI, a lot at 甲, and 李医生 authorized and trained for it."""
    c = clin.clinic
    supplier = c.lot.product.supplier
    reg.create_distribution_authorization(
        SYSTEM,
        supplier_id=supplier.pk,
        brand="乔雅登",
        registrant="Allergan",
        valid_from=PAST,
        valid_until=FAR,
    )
    product = reg.create_product(
        SYSTEM,
        supplier_id=supplier.pk,
        generic_name="注射用修饰透明质酸钠凝胶",
        brand_name="乔雅登",
        kind="device",
        registration_no="国械注进20193131234",
        registrant="Allergan",
        registration_valid_until=FAR,
        risk_class="III",
        high_risk=True,
        category="hyaluronic_acid",
        dose_unit="ml",
        udi_di=gtin(77),
    )
    lot = reg.create_lot(
        SYSTEM,
        institution_id=c.jia.pk,
        product_id=product.pk,
        lot_no="HA2026A",
        expiry_date=FAR,
        unit="piece",
    )
    reg.create_qualification(
        SYSTEM,
        practitioner_id=c.li.pk,
        kind="training_certificate",
        product_reference="乔雅登",
        issuer="厂家",
        number="T-HA-1",
        valid_from=PAST,
        valid_until=FAR,
    )
    authorize(c.jia, c.li, procedure_code=FILLER)
    authorize(c.jia, c.li, "product", product_brand="乔雅登")
    return product, lot


def _udi(product, lot_no: str, serial: str = "") -> str:
    return f"(01){product.udi_di}(17)301231(10){lot_no}" + (f"(21){serial}" if serial else "")


def test_a_filler_site_over_the_institution_time_limit_is_refused(clin, filler):
    product, lot = filler
    case = clin.ready(FILLER)
    actions.open_record(clin.actor("li"), case.pk)
    li = clin.actor("li")
    ok = actions.add_usage(
        li,
        case.pk,
        usage_key="k1",
        code=_udi(product, lot.lot_no, "S1"),
        dose_value=Decimal("1.0"),
        dose_unit="ml",
        site="鼻唇沟左",
        minutes=30,
    )
    assert ok.lot_id == lot.pk and ok.unit_serial == "S1" and ok.decision.outcome == "allow"
    with pytest.raises(ActionError) as exc:
        actions.add_usage(
            li,
            case.pk,
            usage_key="k2",
            code=_udi(product, lot.lot_no, "S2"),
            dose_value=Decimal("1.0"),
            dose_unit="ml",
            site="鼻唇沟右",
            minutes=45,
        )
    assert exc.value.code == "USAGE_REFUSED" and exc.value.field == "dose_value"
    (reason,) = exc.value.details
    assert (reason["code"] == "DURATION_OVER_LIMIT" and "本机构" in reason["source"]) or "机构" in reason[
        "source"
    ]
    assert Usage.objects.filter(record__case=case).count() == 1
    assert AuditEntry.objects.filter(action="clinical.usage.refused").count() == 1


def test_toxin_actually_given_over_the_institution_limit_is_refused(clin):
    case = clin.ready(TOXIN)
    actions.open_record(clin.actor("li"), case.pk)
    li = clin.actor("li")
    lot = clin.clinic.lot
    actions.add_usage(
        li, case.pk, usage_key="a", lot_id=lot.pk, dose_value=Decimal(120), dose_unit="U", site="额"
    )
    # 120 U + 100 U = 220 U > 200 U (INST.botulinum-units-per-session): the engine sees what was really given.
    with pytest.raises(ActionError) as exc:
        actions.add_usage(
            li, case.pk, usage_key="b", lot_id=lot.pk, dose_value=Decimal(100), dose_unit="U", site="眉间"
        )
    (reason,) = exc.value.details
    assert reason["code"] == "DOSE_OVER_LIMIT"
    actions.add_usage(
        li, case.pk, usage_key="c", lot_id=lot.pk, dose_value=Decimal(80), dose_unit="U", site="眉间"
    )
    assert sum(u.dose_value for u in Usage.objects.filter(case=case)) == Decimal(200)


def test_the_same_usage_key_records_once_and_a_unit_serial_once(clin, filler):
    product, lot = filler
    case = clin.ready(FILLER)
    actions.open_record(clin.actor("li"), case.pk)
    li = clin.actor("li")
    kw: dict[str, Any] = dict(
        code=_udi(product, lot.lot_no, "S9"), dose_value=Decimal("0.5"), dose_unit="ml", minutes=10
    )
    first = actions.add_usage(li, case.pk, usage_key="same", **kw)
    again = actions.add_usage(li, case.pk, usage_key="same", **kw)
    assert first.pk == again.pk and Usage.objects.count() == 1
    with pytest.raises(ActionError) as exc:
        actions.add_usage(li, case.pk, usage_key="other", **kw)
    assert exc.value.code == "UNIT_ALREADY_USED"


def test_bad_scans_are_precise_422s(clin, filler):
    product, lot = filler
    case = clin.ready(FILLER)
    actions.open_record(clin.actor("li"), case.pk)
    li = clin.actor("li")
    bad_check = f"(01){product.udi_di[:-1]}{(int(product.udi_di[-1]) + 1) % 10}(10)X"
    with pytest.raises(FieldErrors) as exc:
        actions.add_usage(li, case.pk, usage_key="x", code=bad_check, dose_value=Decimal(1), dose_unit="ml")
    assert exc.value.field == "code" and "校验位" in str(exc.value.message)
    with pytest.raises(NotFoundField):
        actions.add_usage(
            li, case.pk, usage_key="y", code=_udi(product, "NOPE"), dose_value=Decimal(1), dose_unit="ml"
        )
    raw = f"01{product.udi_di}10{lot.lot_no}\x1d21RAW1"  # raw element string from a scanner, FNC1 separator
    u = actions.add_usage(
        li, case.pk, usage_key="z", code=raw, dose_value=Decimal(1), dose_unit="ml", minutes=5
    )
    assert (u.lot_id, u.unit_serial) == (lot.pk, "RAW1")


def test_usage_needs_an_open_record(clin):
    case = clin.ready(TOXIN)
    with pytest.raises(ActionError) as exc:
        actions.add_usage(
            clin.actor("li"),
            case.pk,
            usage_key="a",
            lot_id=clin.clinic.lot.pk,
            dose_value=Decimal(10),
            dose_unit="U",
        )
    assert exc.value.code == "RECORD_NOT_OPEN"


def test_closing_surgery_needs_node_3_and_the_operator(clin):
    case = clin.ready(BREAST)
    actions.open_record(clin.actor("zhou"), case.pk)
    with pytest.raises(ActionError) as exc:
        actions.close_record(clin.actor("zhou"), case.pk)
    assert exc.value.code == "CHECKLIST_NODE3_INCOMPLETE"
    clin.node(case, "before_incision")
    clin.node(case, "before_leaving")
    with pytest.raises(ActionError) as exc:
        actions.close_record(clin.actor("li"), case.pk)
    assert exc.value.code == "WRONG_SIGNER"
    record = actions.close_record(clin.actor("zhou"), case.pk, notes="手术顺利")
    case.refresh_from_db()
    assert record.status == "closed" and record.operator_signed_at and case.status == "closed"
    assert queries.checklist_coverage(clin.actor("zhao"), case.institution_id) == {
        "surgical_cases": 1,
        "all_nodes_complete": 1,
    }
    _case, events = queries.timeline(clin.actor("zhao"), case.pk)
    kinds = [e.kind for e in events]
    assert kinds[0] == "case.created" and kinds[-1] == "record.closed"
    assert kinds.count("checklist.completed") == 3


def test_recall_look_back_lists_every_client_of_the_lot(clin, filler):
    product, lot = filler
    toxin_lot = clin.clinic.lot
    clients = [clin.client] + [clin.new_client(n) for n in ("赵女士", "钱女士")]
    for i, client in enumerate(clients):
        case = clin.ready(TOXIN, client=client)
        actions.open_record(clin.actor("li"), case.pk)
        actions.add_usage(
            clin.actor("li"),
            case.pk,
            usage_key="t",
            lot_id=toxin_lot.pk,
            dose_value=Decimal(20),
            dose_unit="U",
        )
        if i < 2:  # two of them had the filler too, in another case
            f = clin.ready(FILLER, client=client)
            actions.open_record(clin.actor("li"), f.pk)
            actions.add_usage(
                clin.actor("li"),
                f.pk,
                usage_key="f",
                code=_udi(product, lot.lot_no, f"U{i}"),
                dose_value=Decimal(1),
                dose_unit="ml",
                minutes=15,
            )
    reg.change_lot_status(SYSTEM, lot.pk, status="recalled", recall_level=1, reason="厂家召回")
    got = list(queries.clients_of_lot(clin.actor("zhao"), lot.pk))
    assert [u.client_name for u in got] == [clients[0].name, clients[1].name]
    assert {u.client_phone for u in got} == {clients[0].phone, clients[1].phone}
    assert len(list(queries.clients_of_lot(clin.actor("zhao"), toxin_lot.pk))) == 3
    into = list(queries.usages_of_client(clin.actor("zhao"), clients[0].pk))
    assert {u.lot_id for u in into} == {lot.pk, toxin_lot.pk}
    with pytest.raises(NotFoundField):
        queries.clients_of_lot(clin.actor("sun"), lot.pk)


def test_search_by_id_number_phone_and_name(clin):
    from meiguard.clinical.models import Client

    zhao = clin.actor("zhao")
    other = clin.new_client("王小姐", phone="13912345678")
    number = Client.objects.get(pk=other.pk).id_number
    assert [c.pk for c in queries.search_clients(zhao, clin.clinic.jia.pk, number.lower())] == [other.pk]
    assert [c.pk for c in queries.search_clients(zhao, clin.clinic.jia.pk, "139-1234-5678")] == [other.pk]
    assert {c.pk for c in queries.search_clients(zhao, clin.clinic.jia.pk, "王")} == {
        clin.client.pk,
        other.pk,
    }
    assert queries.search_clients(clin.actor("sun"), clin.clinic.jia.pk, number) == []
    # The number is encrypted at rest: the column never holds it.
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT id_number FROM clinical_client WHERE id = %s", [other.pk])
        (stored,) = cur.fetchone()
    assert number not in stored


def test_one_file_per_person_per_institution(clin):
    from meiguard.clinical.models import Client

    number = Client.objects.get(pk=clin.client.pk).id_number
    with pytest.raises(ActionError) as exc:
        clin.new_client("重复", id_number=number)
    assert exc.value.code == "CLIENT_EXISTS" and exc.value.status == 409


def test_pipl_consent_withdrawal_is_recorded_and_stops_new_cases(clin):
    consent = clin.client.privacy_consents.get()
    actions.withdraw_privacy_consent(clin.actor("zhao"), consent.pk, reason="不再同意")
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None and consent.withdrawal_reason == "不再同意"
    assert AuditEntry.objects.filter(
        action="clinical.privacyconsent.withdrawn", object_id=str(consent.pk)
    ).exists()
    with pytest.raises(ActionError) as exc:
        clin.case(TOXIN)
    assert exc.value.code == "PRIVACY_CONSENT_MISSING"
    with pytest.raises(ActionError) as exc:
        actions.withdraw_privacy_consent(clin.actor("zhao"), consent.pk, reason="again")
    assert exc.value.code == "ALREADY_WITHDRAWN"


def test_a_minor_must_be_signed_for_by_a_guardian(clin):
    minor = clin.new_client("小李", date_of_birth=dt.date.today().replace(year=dt.date.today().year - 16))
    case = clin.case(TOXIN, client=minor)
    with pytest.raises(FieldErrors) as exc:
        clin.consent(case)
    assert exc.value.field == "signer_relation"


def test_a_consultant_prepares_but_only_a_doctor_signs(clin):
    case = clin.case(TOXIN)
    actions.save_consultation(clin.actor("zhang"), case.pk, needs="去皱", procedure_codes=[TOXIN])
    with pytest.raises(ActionError) as exc:
        actions.sign_consultation(clin.actor("zhang"), case.pk)
    assert exc.value.code == "DOCTOR_REQUIRED"
    signed = actions.sign_consultation(clin.actor("li"), case.pk)
    assert signed.doctor_id == clin.clinic.li.pk
    item = signed.items.get()
    assert (item.procedure_code, item.price) == (TOXIN, Decimal("1800.00"))


def test_an_unpriced_procedure_cannot_be_proposed(clin):
    case = clin.case(TOXIN)
    with pytest.raises(FieldErrors) as exc:
        actions.save_consultation(
            clin.actor("zhang"), case.pk, needs="x", procedure_codes=[TOXIN, "surg-double-eyelid"]
        )
    assert exc.value.field == "procedure_codes[1]" and "明码标价" in str(exc.value.message)
