from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from meiguard.rules import services
from meiguard.rules.testing import load_builtin_packs

PACKS = Path(__file__).resolve().parent.parent / "packs"


@pytest.fixture(autouse=True)
def _fresh_rule_cache():
    services.clear_cache()
    yield
    services.clear_cache()


@pytest.fixture
def builtin(db):
    """Published national + Beijing packs: {code: RulePackVersion}."""
    return load_builtin_packs()


@pytest.fixture
def pack_copy(tmp_path):
    """Copy a shipped pack into tmp_path so a test can edit it: pack_copy("cn-national") -> Path."""

    def make(code: str, name: str | None = None) -> Path:
        target = tmp_path / (name or code)
        shutil.copytree(PACKS / code, target)
        return target

    return make
