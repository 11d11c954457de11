"""Shared output for the rule-pack commands."""

from __future__ import annotations

from django.core.management.base import CommandError

from meiguard.core.errors import ActionError
from meiguard.rules.packfile import PackInvalid


def fail_with_issues(exc: PackInvalid) -> CommandError:
    lines = [str(issue) for issue in exc.issues]
    return CommandError(f"{len(lines)} error(s); nothing was written:\n" + "\n".join(lines))


def fail_with_action_error(exc: ActionError) -> CommandError:
    return CommandError(f"{exc.code}: {exc.message}")
