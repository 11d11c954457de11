"""Django merges every app's English catalog and the first app listed wins: a source string translated two
ways would show one app's English on another app's page. Every shared msgid must agree."""

import gettext
from pathlib import Path

import meiguard

ROOT = Path(meiguard.__file__).parent


def _catalogs() -> dict[str, dict[str, str]]:
    out = {}
    for mo in sorted(ROOT.glob("*/locale/en/LC_MESSAGES/django.mo")):
        with mo.open("rb") as fh:
            catalog = gettext.GNUTranslations(fh)._catalog  # type: ignore[attr-defined]
        out[mo.parts[-5]] = {k: v for k, v in catalog.items() if isinstance(k, str) and k and v}
    return out


def test_every_app_has_an_english_catalog():
    apps = {p.parent.name for p in ROOT.glob("*/apps.py")}
    assert apps - set(_catalogs()) - {"demo"} == set()


def test_shared_source_strings_translate_the_same_everywhere():
    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for app, catalog in _catalogs().items():
        for msgid, msgstr in catalog.items():
            if msgid in seen and seen[msgid][1] != msgstr:
                clashes.append(f"{msgid!r}: {seen[msgid][0]}={seen[msgid][1]!r} vs {app}={msgstr!r}")
            seen.setdefault(msgid, (app, msgstr))
    assert clashes == []
