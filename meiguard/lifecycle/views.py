"""The /lifecycle/ staff page: what expires soon (filters, pagination, Excel export) and recent scheduled runs.

Thin views: parse the filters, call ``queries.expiring``, render. With htmx the filter form swaps only the
results (``lifecycle/partials/_expiring.html``); without JS the whole page renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meiguard.core.errors import ActionError
from meiguard.core.params import actor as _actor
from meiguard.registry.models import Institution

from . import actions, exporters, queries
from .choices import THRESHOLDS, ItemKind

PAGE_SIZE = 25
WITHIN_CHOICES = (30, 90, 180, 365)


@dataclass(frozen=True)
class Filters:
    kind: str = ""
    bucket: int | None = None
    institution: int | None = None
    within: int = 90

    @classmethod
    def parse(cls, request: HttpRequest) -> Filters:
        """Unknown or malformed values are ignored (the filter shows 全部), never an error page."""
        get = request.GET
        kind = get.get("kind", "").strip()
        bucket = get.get("bucket", "").strip()
        institution = get.get("institution", "").strip()
        within = get.get("within", "").strip()
        return cls(
            kind=kind if kind in ItemKind.values else "",
            bucket=int(bucket) if bucket.isdigit() and int(bucket) in THRESHOLDS else None,
            institution=int(institution) if institution.isdigit() and len(institution) < 12 else None,
            within=int(within) if within.isdigit() and int(within) in WITHIN_CHOICES else 90,
        )


def _items(request: HttpRequest, f: Filters) -> list[queries.ExpiringItem]:
    items = queries.expiring(
        _actor(request), on=timezone.localdate(), within_days=f.within, institution_id=f.institution
    )
    return queries.filter_items(items, kind=f.kind, bucket=f.bucket)


@login_required
def index(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    f = Filters.parse(request)
    page = Paginator(_items(request, f), PAGE_SIZE).get_page(request.GET.get("page"))
    sent = queries.reminders_sent(actor, page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    ctx: dict[str, Any] = {
        "f": f,
        "page": page,
        "rows": [(item, sent.get(item.key, [])) for item in page.object_list],
        "chasable": {
            (item.kind, item.object_id)
            for item in page.object_list
            if actor.can_write_org(item.organization_id, actions.CHASE_ROLES)
        },
        "querystring": query.urlencode(),
        "today": timezone.localdate(),
        "kinds": queries.kind_choices(),
        "thresholds": THRESHOLDS,
        "within_choices": WITHIN_CHOICES,
        "institutions": list(Institution.objects.visible_to(actor).order_by("name").values("pk", "name")),
        "runs": queries.recent_runs(10),
        "show_run_details": actor.is_unrestricted,
    }
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "lifecycle/partials/_expiring.html", ctx)
    return render(request, "lifecycle/index.html", ctx)


@login_required
def export(request: HttpRequest) -> HttpResponse:
    items = _items(request, Filters.parse(request))
    body = exporters.expiring_xlsx(items, site_url=settings.SITE_URL)
    response = HttpResponse(body, content_type=exporters.CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="expiring-{timezone.localdate():%Y%m%d}.xlsx"'
    return response


@login_required
@require_POST
def chase(request: HttpRequest) -> HttpResponse:
    """催办: notify the holder of one expiring item now (once a day per item)."""
    kind = request.POST.get("kind", "")[:32]
    raw = request.POST.get("object_id", "")
    if not (raw.isascii() and raw.isdigit() and len(raw) < 12):
        raise Http404
    try:
        sent = actions.chase(_actor(request), kind, int(raw), on=timezone.localdate())
    except ActionError as exc:
        raise PermissionDenied(str(exc.message)) from exc
    if sent:
        messages.success(request, _("已催办,通知了 %(n)s 人") % {"n": sent})
    else:
        messages.info(request, _("今天已催办过该事项(或没有可通知的人)"))
    back = request.POST.get("next", "")
    if back.startswith("?") and len(back) < 500:
        return redirect(reverse("lifecycle:index") + back)
    return redirect("lifecycle:index")
