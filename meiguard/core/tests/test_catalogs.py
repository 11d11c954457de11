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


def _po_entries(po: Path) -> list[tuple[str, str, bool]]:
    """(key, msgstr, fuzzy) of every entry, keyed as in the compiled catalog ("ctx\x04msgid" with a context);
    plural entries report their first msgstr."""
    out = []
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        lines = [ln for ln in block.splitlines() if not ln.startswith("#~")]
        fuzzy = any(ln.startswith("#,") and "fuzzy" in ln for ln in lines)
        parts: dict[str, str] = {}
        key = None
        for ln in lines:
            if ln.startswith("#"):
                continue
            if ln.startswith('"') and key:
                parts[key] += ln[1:-1]
                continue
            head, _, rest = ln.partition(" ")
            if head in ("msgid", "msgstr", "msgstr[0]", "msgid_plural", "msgctxt"):
                key = "msgstr" if head == "msgstr[0]" else head
                parts[key] = rest[1:-1]
        if parts.get("msgid"):
            key = parts["msgid"] if "msgctxt" not in parts else f"{parts['msgctxt']}\x04{parts['msgid']}"
            out.append(
                (key if "msgid_plural" not in parts else f"plural:{key}", parts.get("msgstr", ""), fuzzy)
            )
    return out


def test_every_source_string_has_its_english():
    """No untranslated or fuzzy entry in any app's catalog (run makemessages, then fill every msgstr)."""
    missing = [
        f"{po.parts[-5]}: {msgid!r}"
        for po in sorted(ROOT.glob("*/locale/en/LC_MESSAGES/django.po"))
        for msgid, msgstr, fuzzy in _po_entries(po)
        if not msgstr or fuzzy
    ]
    assert missing == []


def test_compiled_catalogs_match_their_sources():
    """A .po edited without compilemessages ships its old English: every msgid must be in the .mo."""
    catalogs = _catalogs()
    stale = [
        f"{po.parts[-5]}: {msgid!r}"
        for po in sorted(ROOT.glob("*/locale/en/LC_MESSAGES/django.po"))
        for msgid, _msgstr, _fuzzy in _po_entries(po)
        if "\\" not in msgid
        and not msgid.startswith("plural:")
        and msgid not in catalogs.get(po.parts[-5], {})
    ]
    assert stale == []
