"""The staff workspace: the role dashboard at "/" and its panels, each refreshable on its own with htmx."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from meiguard.core.params import actor as _actor

from . import queries
from . import search as search_rows


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    """The panels of the signed-in user's roles (the home page renders them)."""
    board, panels = queries.dashboard(_actor(request), timezone.now())
    return {"board": board, "panels": panels}


@login_required
def panel(request: HttpRequest, key: str) -> HttpResponse:
    """One panel, fresh: the fragment for htmx, or a page holding just that panel without JS."""
    actor = _actor(request)
    if key not in queries.panel_keys(actor):
        raise Http404("no such panel")
    board = queries.Board(actor, timezone.now())
    ctx = {"panel": queries.build_panel(board, key), "board": board}
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "workspace/panels/_panel.html", ctx)
    return render(request, "workspace/panel_page.html", ctx)


@login_required
def search(request: HttpRequest) -> HttpResponse:
    """The header's search box: results grouped by kind, only rows the actor may see (workspace/search.py)."""
    term = search_rows.clean(request.GET.get("q", ""))
    groups = search_rows.search(_actor(request), term)
    ctx = {"search_q": term, "groups": groups, "per_kind": search_rows.PER_KIND}
    return render(request, "workspace/search.html", ctx)
