from __future__ import annotations

import datetime as dt
from pathlib import Path

from meiguard.core.access import Actor
from meiguard.rules import actions
from meiguard.rules.models import RulePackVersion


def edit(path: Path, *replacements: tuple[str, str], file: str = "pack.yaml") -> Path:
    target = path / file
    text = target.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    target.write_text(text, encoding="utf-8")
    return path


def load_and_publish(path: Path, effective_from: dt.date | None = None) -> RulePackVersion:
    actor = Actor.system("tests")
    version = actions.load_pack(actor, path).version
    return actions.publish_version(
        actor, version.pack.code, version.version, effective_from=effective_from
    ).version


# The shipped packs take effect on this day (国卫医发〔2017〕16号, the current 主诊医师 filing notice).
SHIPPED_EFFECTIVE = "2017-03-17"
# The 200 U botulinum toxin limit is an institution rule: it lives in the institution template.
TEMPLATE_DIR = "institution-template"


def national_v2(
    pack_copy, *, effective_from: str = "2025-01-01", extra: tuple[tuple[str, str], ...] = ()
) -> Path:
    """A second national version: CME 25 → 30 credits, one procedure regraded, one removed, one rule added."""
    path = pack_copy("cn-national", "cn-national-v2")
    edit(
        path,
        ("version: 1", "version: 2"),
        (f"effective_from: {SHIPPED_EFFECTIVE}", f"effective_from: {effective_from}"),
        ("    value: 25\n", "    value: 30\n"),
        *extra,
    )
    csv_path = path / "procedure_catalog.csv"
    lines = csv_path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines = [ln for ln in lines if not ln.startswith("surg-eyebrow-reshaping,")]
    lines = [
        ln.replace(",眉提升术,Brow lift,1,surgical,local,", ",眉提升术,Brow lift,2,surgical,epidural-iv,")
        for ln in lines
    ]
    csv_path.write_text("".join(lines), encoding="utf-8")
    with (path / "pack.yaml").open("a", encoding="utf-8") as handle:
        handle.write(
            "  - id: TEST.new-requirement\n"
            "    title: 新要求\n"
            "    metric: test_metric\n"
            "    value: 1\n"
            "    cites: [measures 第二条]\n"
        )
    return path


def template_v2(pack_copy, *, effective_from: str = "2025-01-01", max_value: int = 150) -> Path:
    """A second version of the institution template: the botulinum toxin limit 200 U → ``max_value``."""
    path = pack_copy(TEMPLATE_DIR, "inst-template-v2")
    return edit(
        path,
        ("version: 1", "version: 2"),
        (f"effective_from: {SHIPPED_EFFECTIVE}", f"effective_from: {effective_from}"),
        ("max_value: 200", f"max_value: {max_value}"),
    )
