"""Helpers for other apps' tests: ``load_builtin_packs()`` gives them published national + Beijing packs."""

from __future__ import annotations

from meiguard.core.access import Actor

from .actions import load_builtin
from .models import RulePackVersion


def load_builtin_packs() -> dict[str, RulePackVersion]:
    """Load and publish the shipped packs (idempotent); returns {pack code: published version}."""
    results = load_builtin(Actor.system("tests"), publish=True)
    return {r.version.pack.code: r.version for r in results}
