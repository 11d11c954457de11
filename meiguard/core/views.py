from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from .choices import Role


class LoginView(auth_views.LoginView):
    template_name = "core/login.html"
    redirect_authenticated_user = True


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The role dashboard: the workspace panels of every role the user holds, then their memberships."""
    from meiguard.workspace.views import dashboard_context

    actor = request.actor  # type: ignore[attr-defined]
    memberships = request.user.memberships.filter(is_active=True).select_related("organization")  # type: ignore[union-attr]
    roles = sorted(actor.roles())
    labels = dict(Role.choices)
    ctx = {
        "memberships": memberships,
        "roles": roles,
        "role_labels": [labels.get(r, r) for r in roles],
        **dashboard_context(request),
    }
    return render(request, "core/home.html", ctx)


def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
