"""OpenAPI component names come from schema class names: two apps' ``StepOut`` would document one app's
endpoints with the other's shape (django-ninja keeps one silently). Every schema of every API module has a
name of its own."""

from __future__ import annotations

import importlib
import inspect
from collections import defaultdict

from django.apps import apps
from pydantic import BaseModel


def test_every_api_schema_name_is_unique_across_apps():
    seen: dict[str, set[str]] = defaultdict(set)
    for config in apps.get_app_configs():
        if not config.name.startswith("meiguard."):
            continue
        try:
            module = importlib.import_module(f"{config.name}.api")
        except ModuleNotFoundError:
            continue
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, BaseModel) and obj.__module__ == module.__name__:
                seen[obj.__name__].add(module.__name__)
    clashes = {name: sorted(mods) for name, mods in seen.items() if len(mods) > 1}
    assert clashes == {}
    assert len(seen) > 100  # the scan found the API modules
