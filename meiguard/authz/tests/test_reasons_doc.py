"""docs/decision-reasons.md and reasons.REASONS list the same codes, with the engine's severities."""

import re
from pathlib import Path

from django.utils import translation

from meiguard.authz import policy
from meiguard.authz.reasons import REASONS

DOC = Path(__file__).resolve().parents[3] / "docs" / "decision-reasons.md"
ROW = re.compile(r"^\| `([A-Z_]+)` \| (deny|warn) \| (.*?) \| (.*?) \|", re.M)


def _rows() -> dict[str, tuple[str, str, str]]:
    rows: dict[str, tuple[str, str, str]] = {}
    for code, severity, zh, en in ROW.findall(DOC.read_text(encoding="utf-8")):
        assert code not in rows, f"{code} is listed twice"
        rows[code] = (severity, zh.replace("\\|", "|"), en.replace("\\|", "|"))
    return rows


def test_every_code_in_reasons_is_documented_and_vice_versa():
    documented = set(_rows())
    assert documented - set(REASONS) == set(), "documented but unknown to reasons.REASONS"
    assert set(REASONS) - documented == set(), "in reasons.REASONS but not documented"


def test_every_code_the_engine_emits_has_a_message():
    source = Path(policy.__file__).read_text(encoding="utf-8")
    emitted = set(re.findall(r'"([A-Z][A-Z_]+[A-Z])"', source)) - {"DENY", "WARN", "ALLOW"}
    assert emitted - set(REASONS) == set()


def test_documented_severity_matches_the_engine():
    source = Path(policy.__file__).read_text(encoding="utf-8")
    warns = set(re.findall(r'_warn\(\s*"([A-Z_]+)"', source))
    assert warns, "no warnings found in policy.py"
    for code, (severity, _, _) in _rows().items():
        assert (severity == "warn") == (code in warns), code


def test_documented_messages_are_the_current_ones():
    for code, (_, zh, en) in _rows().items():
        with translation.override("zh-hans"):
            assert str(REASONS[code]) == zh, code
        with translation.override("en"):
            english = str(REASONS[code])
        assert english == en, code
        assert english != zh, f"{code} has no English translation"
        assert re.findall(r"\{\w+\}", english) == re.findall(r"\{\w+\}", zh) or sorted(
            re.findall(r"\{\w+\}", english)
        ) == sorted(re.findall(r"\{\w+\}", zh)), f"{code}: placeholders differ"


def test_dose_over_limit_says_exceeds_in_english():
    with translation.override("en"):
        assert "exceeds" in str(REASONS["DOSE_OVER_LIMIT"])
