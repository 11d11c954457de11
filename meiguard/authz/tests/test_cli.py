"""``manage.py decide``: exit 0 allow, 1 deny (reasons printed), 2 / CommandError for bad input."""

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from meiguard.authz.management.commands.decide import parse_at, parse_dose
from meiguard.authz.models import DecisionLog


def _run(*args: str) -> tuple[str, int]:
    out = StringIO()
    try:
        call_command("decide", *args, stdout=out)
    except SystemExit as exc:
        return out.getvalue(), int(exc.code or 0)
    return out.getvalue(), 0


def _base(clinic) -> list[str]:
    return [
        "--institution", str(clinic.jia.pk),
        "--practitioner", str(clinic.li.pk),
        "--procedure", "derm-botulinum-toxin-injection",
        "--at", "2026-03-03T10:00:00+08:00",
    ]  # fmt: skip


def test_it_allows_with_exit_0_and_logs_as_cli(clinic):
    out, code = _run(
        *_base(clinic), "--lot", str(clinic.lot.pk), "--dose", "50U", "--device", str(clinic.device.pk)
    )
    assert code == 0
    assert "允许" in out and "(allow)" in out
    row = DecisionLog.objects.get()
    assert (row.channel, row.actor_label, row.outcome) == ("cli", "cli", "allow")
    assert row.request["products"][0]["dose_value"] in ("50", 50, "50.000")


def test_it_denies_with_exit_1_and_prints_every_reason(clinic):
    out, code = _run(
        *_base(clinic), "--lot", str(clinic.lot.pk), "--dose", "250U", "--procedure", "derm-filler-injection"
    )
    assert code == 1
    assert "(deny)" in out
    assert "DOSE_OVER_LIMIT" in out and "超过单次上限 200U" in out
    assert "INST.botulinum-units-per-session" in out
    assert "AUTHORIZATION_MISSING" in out
    assert DecisionLog.objects.get().outcome == "deny"


def test_it_prints_english_with_lang(clinic):
    out, code = _run(*_base(clinic), "--lot", str(clinic.lot.pk), "--dose", "250U", "--lang", "en")
    assert code == 1
    assert "exceeds" in out
    assert "Not allowed" in out


def test_json_output_has_the_api_shape(clinic):
    out, code = _run(*_base(clinic), "--lot", str(clinic.lot.pk), "--dose", "250u", "--json")
    assert code == 1
    body = json.loads(out)
    assert set(body) == {
        "id", "outcome", "allowed", "institution_id", "practitioner_id", "procedure_code", "at", "rule_pack",
        "reasons",
    }  # fmt: skip
    assert (body["outcome"], body["allowed"]) == ("deny", False)
    reason = body["reasons"][0]
    assert reason["code"] == "DOSE_OVER_LIMIT"
    assert set(reason) == {"code", "severity", "message", "messages", "rule", "facts"}
    assert "exceeds" in reason["messages"]["en"]
    assert reason["rule"]["rule_id"] == "INST.botulinum-units-per-session"
    assert body["id"] == DecisionLog.objects.get().pk


def test_lots_doses_and_minutes_pair_up(clinic):
    out, code = _run(
        *_base(clinic), "--lot", str(clinic.lot.pk), "--lot", str(clinic.lot.pk), "--dose", "100U", "--dose", "150U",
        "--minutes", "20", "--json",
    )  # fmt: skip
    body = json.loads(out)
    assert code == 1
    assert body["reasons"][0]["facts"]["dose"] == "250U"
    products = DecisionLog.objects.get().request["products"]
    assert [p["minutes"] for p in products] == [20, None]


def test_it_acts_as_a_user(clinic):
    _, code = _run(*_base(clinic), "--as", "li")
    assert DecisionLog.objects.get().actor_label == "li"
    assert code == 0


@pytest.mark.parametrize("dose", ["abc", "50", "U50", "50 bananas", "1.23456ml", "-5U", ""])
def test_bad_doses_are_command_errors(clinic, dose):
    with pytest.raises(CommandError) as exc:
        _run(*_base(clinic), "--lot", str(clinic.lot.pk), f"--dose={dose}")
    assert "剂量格式无效" in str(exc.value)
    assert exc.value.returncode == 2
    assert not DecisionLog.objects.exists()


def test_a_dose_without_a_lot_is_a_command_error(clinic):
    with pytest.raises(CommandError) as exc:
        _run(*_base(clinic), "--dose", "50U")
    assert "--lot" in str(exc.value)


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [
        ("--institution", "999999", "institution_id"),
        ("--practitioner", "999999", "practitioner_id"),
        ("--procedure", "no-such-procedure", "procedure_code"),
        ("--device", "999999", "device_ids[0]"),
        ("--lot", "999999", "products[0].lot_id"),
        ("--supervisor", "999999", "supervisor_id"),
    ],
)
def test_unknown_ids_are_command_errors(clinic, option, value, field):
    with pytest.raises(CommandError) as exc:
        _run(*_base(clinic), option, value)
    assert field in str(exc.value)
    assert exc.value.returncode == 2
    assert not DecisionLog.objects.exists()


def test_foreign_ids_are_command_errors_for_a_user(clinic):
    with pytest.raises(CommandError) as exc:
        _run(*_base(clinic), "--as", "sun")
    assert "institution_id" in str(exc.value)


def test_unknown_user_bad_time_and_bad_ids_are_command_errors(clinic):
    with pytest.raises(CommandError, match="用户不存在"):
        _run(*_base(clinic), "--as", "nobody")
    with pytest.raises(CommandError, match="时间格式无效"):
        _run(*_base(clinic), "--at", "yesterday")
    with pytest.raises(CommandError):
        _run(*_base(clinic)[2:], "--institution", "abc")
    with pytest.raises(CommandError):
        _run(*_base(clinic), "--minutes", "5")


def test_parsers():
    assert parse_dose("50U") == (Decimal("50"), "U")
    assert parse_dose("1.5ml") == (Decimal("1.5"), "ml")
    assert parse_dose(" 2 mg ") == (Decimal("2"), "mg")
    assert parse_dose("10SHOT") == (Decimal("10"), "shot")
    at = parse_at("2026-03-03T10:00")
    assert at is not None and at.utcoffset().total_seconds() == 8 * 3600
    day = parse_at("2026-03-03")
    assert day is not None and day.hour == 12
    assert parse_at(None) is None
