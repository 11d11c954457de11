"""Security headers (issue 11 §7): a strict CSP everywhere, no-store on the API and signed-in pages."""

from __future__ import annotations

from pathlib import Path

from django.test import Client


def _csp(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    out = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        out[name] = value
    return out


def test_csp_forbids_inline_and_foreign_scripts(world):
    response = world.client("li").get("/")
    policy = _csp(response)
    assert policy["script-src"] == "'self'"
    assert "'unsafe-inline'" not in policy["style-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert "Content-Security-Policy" in Client().get("/login/")


def test_pages_have_no_inline_scripts_or_handlers(world):
    import re

    html = world.client("li").get("/").content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script> found"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler found"
    templates = Path(__file__).resolve().parents[2]
    for path in templates.rglob("templates/**/*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\son(change|click|submit|load|input)=", text), path


def test_api_and_signed_in_pages_are_not_stored(world):
    assert "no-store" in world.client("li").get("/").get("Cache-Control", "")
    assert "no-store" in world.client("li").get("/api/v1/me").get("Cache-Control", "")
    assert "no-store" in Client().get("/api/v1/me").get("Cache-Control", "")
