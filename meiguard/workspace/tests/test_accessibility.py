"""Accessibility in the stylesheets: text, focus-ring and chart colours reach their WCAG contrast ratios.

The browser checks (768 px tablet fit, tables scrolling in their own region, keyboard focus on sort headers,
htmx panel refresh) run on the one browser harness: ``meiguard/e2e/test_workspace_browser.py``."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

CSS = Path(settings.BASE_DIR) / "meiguard" / "static" / "meiguard" / "app.css"
WORKSPACE_CSS = Path(settings.BASE_DIR) / "meiguard" / "workspace" / "static" / "workspace" / "workspace.css"


def luminance(hex_colour: str) -> float:
    hex_colour = hex_colour.lstrip("#")
    if len(hex_colour) == 3:
        hex_colour = "".join(c * 2 for c in hex_colour)
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def variables() -> dict[str, str]:
    return dict(re.findall(r"--(\w+):\s*(#[0-9a-fA-F]{3,6})", CSS.read_text()))


def test_text_colours_reach_4_5_to_1_on_every_background():
    v = variables()
    backgrounds = {"card": v["card"], "page": v["bg"], "table header": "#eef1f5"}
    for name in ("fg", "muted", "accent", "ok", "warn", "deny"):
        for where, bg in backgrounds.items():
            assert contrast(v[name], bg) >= 4.5, (name, where, round(contrast(v[name], bg), 2))
    header_bg = re.search(r"header\.top \{[^}]*background:(#[0-9a-fA-F]{6})", CSS.read_text()).group(1)
    assert contrast("#ffffff", header_bg) >= 4.5
    assert contrast("#333333", "#ffffff") >= 4.5  # chart labels
    assert contrast("#ffffff", "#0b5cad") >= 4.5  # primary button text


def test_focus_ring_shows_on_light_and_dark_backgrounds():
    css = CSS.read_text()
    assert ":focus-visible" in css
    # the ring pairs a dark and a yellow line, so one of them contrasts (≥ 3:1) with any background we use
    for bg in ("#ffffff", "#f6f7f9", "#0b2e52"):
        assert max(contrast("#1a1a1a", bg), contrast("#ffbf47", bg)) >= 3


def test_bar_colours_stand_out_from_the_panel():
    css = WORKSPACE_CSS.read_text()
    for cls in ("s-allow", "s-deny"):
        colour = re.search(rf"\.{cls} {{ fill:(#[0-9a-fA-F]{{6}}); }}", css).group(1)
        assert contrast(colour, "#ffffff") >= 3  # graphical objects (WCAG 1.4.11)
