"""Review pages: campaign list, campaign detail (checklist by category, findings, reports, history), forms.

Thin views: parse, call one query or action, render. A campaign the actor cannot see is a 404; one they can
see but not run is a 403. Marking an item "ok" works in place with htmx (``_item_row.html``) and as a plain
POST without JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meiguard.core import permissions
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError
from meiguard.core.params import actor as _actor
from meiguard.core.params import int_param as _int_param
from meiguard.core.params import paginate as _page
from meiguard.core.params import param as _param

from . import actions, queries, reports
from .choices import CampaignKind, CampaignStatus
from .forms import (
    ActionForm,
    CampaignForm,
    CloseCampaignForm,
    CloseFindingForm,
    FindingForm,
    ItemOkForm,
    apply_error,
)
from .models import Campaign
from .periods import parse


def _forbidden(exc: ActionError) -> None:
    if exc.status == 403:
        raise PermissionDenied(str(exc.message))


def _writable_campaign(request: HttpRequest, pk: int) -> Campaign:
    campaign = queries.campaign(_actor(request), pk)  # 404 if not visible
    if not queries.can_write(_actor(request), campaign):
        raise PermissionDenied(str(queries.refusal(campaign.kind).message))
    return campaign


# ---- list and create ------------------------------------------------------------------------------------


@login_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    status = _param(request, "status")
    kind = _param(request, "kind")
    quarter = parse(_param(request, "period"))
    filters = queries.CampaignFilters(
        institution_id=_int_param(request, "institution"),
        period=quarter.label if quarter else "",
        status=status if status in CampaignStatus.values else "",
        kind=kind if kind in CampaignKind.values else "",
    )
    ctx = _page(request, queries.campaigns(actor, filters)) | {
        "f": request.GET,
        "institutions": queries.institutions(actor),
        "periods": queries.periods(actor),
        "statuses": CampaignStatus.choices,
        "kinds": CampaignKind.choices,
        "can_create": permissions.can(actor, "reviews.create"),
    }
    return render(request, "reviews/campaign_list.html", ctx)


@login_required
def campaign_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    permissions.require(actor, "reviews.create")
    initial = {"institution": _int_param(request, "institution")}
    form = CampaignForm(request.POST or None, initial=initial, actor=actor)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                campaign = actions.create_campaign(
                    actor,
                    institution_id=form.cleaned_data["institution"],
                    period=form.cleaned_data["period"],
                    kind=form.cleaned_data["kind"],
                )
            except (NotFoundField, ActionError) as exc:
                apply_error(form, exc)
                status = getattr(exc, "status", 404)
            else:
                messages.success(request, _("审查已发起,检查清单已按数据生成"))
                return redirect("reviews:campaign_detail", pk=campaign.pk)
        else:
            status = 422
    return render(request, "reviews/campaign_form.html", {"form": form}, status=status)


# ---- detail -----------------------------------------------------------------------------------------------


def _detail(
    request: HttpRequest, pk: int, *, close_form: CloseCampaignForm | None = None, status: int = 200
) -> HttpResponse:
    actor = _actor(request)
    campaign = queries.campaign(actor, pk)
    can_write = queries.can_write(actor, campaign)
    findings = list(queries.findings(campaign))
    ctx = {
        "c": campaign,
        "can_write": can_write,
        "editable": can_write and campaign.is_open,
        "counts": queries.counts(campaign),
        "groups": queries.items_by_category(campaign),
        "findings": [
            {
                "f": f,
                "action_form": ActionForm(finding=f) if f.allowed_actions() else None,
                "close_form": CloseFindingForm(finding=f) if f.is_open else None,
            }
            for f in findings
        ],
        "close_form": close_form or CloseCampaignForm(),
        "history": queries.history(actor, campaign),
    }
    return render(request, "reviews/campaign_detail.html", ctx, status=status)


@login_required
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, pk)


def _post_action(request: HttpRequest, pk: int, run: Callable[[], Any], success: str) -> HttpResponse:
    """Run one action for a campaign page; its error becomes a message (403 stays a 403)."""
    try:
        run()
    except NotFoundField:
        raise
    except ActionError as exc:
        _forbidden(exc)
        messages.error(request, str(exc.message))
    else:
        messages.success(request, success)
    return redirect("reviews:campaign_detail", pk=pk)


@login_required
@require_POST
def campaign_rebuild(request: HttpRequest, pk: int) -> HttpResponse:
    _writable_campaign(request, pk)
    return _post_action(
        request, pk, lambda: actions.rebuild_checklist(_actor(request), pk), _("检查清单已按最新数据更新")
    )


@login_required
@require_POST
def campaign_close(request: HttpRequest, pk: int) -> HttpResponse:
    _writable_campaign(request, pk)
    form = CloseCampaignForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            actions.close_campaign(_actor(request), pk, **form.cleaned_data)
        except ActionError as exc:
            _forbidden(exc)
            apply_error(form, exc)
            status = exc.status
        else:
            messages.success(request, _("审查已结束"))
            return redirect("reviews:campaign_detail", pk=pk)
    return _detail(request, pk, close_form=form, status=status)


# ---- checklist items ---------------------------------------------------------------------------------------


@login_required
@require_POST
def item_ok(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    item = queries.item(actor, pk)  # 404 if not visible
    if not queries.can_write(actor, item.campaign):
        raise PermissionDenied(str(queries.refusal(item.campaign.kind).message))
    form = ItemOkForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            actions.mark_item_ok(actor, pk, note=form.cleaned_data["note"])
        except ActionError as exc:
            error = str(exc.message)
    else:
        error = "; ".join(str(m) for msgs in form.errors.values() for m in msgs)
    if request.htmx:  # type: ignore[attr-defined]
        row = queries.items(item.campaign).get(pk=pk)
        ctx = {"item": row, "c": item.campaign, "editable": item.campaign.is_open, "error": error}
        return render(request, "reviews/partials/_item_row.html", ctx)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("检查项已标记为合格"))
    return redirect("reviews:campaign_detail", pk=item.campaign_id)


# ---- findings -------------------------------------------------------------------------------------------


@login_required
def finding_create(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _writable_campaign(request, pk)
    actor = _actor(request)
    initial: dict[str, Any] = {}
    item_id = _int_param(request, "item")
    if item_id:
        item = campaign.items.filter(pk=item_id).first()
        if item is not None:
            initial = {
                "item": item.pk,
                "practitioner": item.practitioner_id,
                "authorization": item.authorization_id,
                "description": item.title,
            }
    form = FindingForm(request.POST or None, initial=initial, campaign=campaign)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                finding = actions.raise_finding(actor, pk, **form.action_kwargs())
            except (NotFoundField, ActionError) as exc:
                if isinstance(exc, ActionError):
                    _forbidden(exc)
                apply_error(form, exc)
                status = getattr(exc, "status", 404)
            else:
                messages.success(request, _("问题已登记"))
                return redirect(f"{campaign_url(pk)}#finding-{finding.pk}")
        else:
            status = 422
    return render(request, "reviews/finding_form.html", {"form": form, "c": campaign}, status=status)


def campaign_url(pk: int) -> str:
    return reverse("reviews:campaign_detail", args=[pk])


def _finding_campaign(request: HttpRequest, pk: int) -> int:
    actor = _actor(request)
    finding = queries.finding(actor, pk)  # 404 if not visible
    if not queries.can_write(actor, finding.campaign):
        raise PermissionDenied(str(queries.refusal(finding.campaign.kind).message))
    return finding.campaign_id


@login_required
@require_POST
def finding_action(request: HttpRequest, pk: int) -> HttpResponse:
    campaign_id = _finding_campaign(request, pk)
    form = ActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(str(m) for msgs in form.errors.values() for m in msgs))
        return redirect("reviews:campaign_detail", pk=campaign_id)
    return _post_action(
        request,
        campaign_id,
        lambda: actions.record_action(
            _actor(request), pk, action=form.cleaned_data["action"], due_date=form.cleaned_data["due_date"]
        ),
        _("处理措施已记录"),
    )


@login_required
@require_POST
def finding_close(request: HttpRequest, pk: int) -> HttpResponse:
    campaign_id = _finding_campaign(request, pk)
    form = CloseFindingForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("关闭问题须填写关闭说明"))
        return redirect("reviews:campaign_detail", pk=campaign_id)
    return _post_action(
        request,
        campaign_id,
        lambda: actions.close_finding(_actor(request), pk, note=form.cleaned_data["note"]),
        _("问题已关闭"),
    )


# ---- reports --------------------------------------------------------------------------------------------


@login_required
def report_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = queries.campaign(_actor(request), pk)
    return reports.attachment(
        reports.render_pdf(_actor(request), pk), "application/pdf", reports.filename(campaign, "pdf")
    )


@login_required
def report_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = queries.campaign(_actor(request), pk)
    return reports.attachment(
        reports.render_xlsx(_actor(request), pk),
        reports.XLSX,
        reports.filename(campaign, "xlsx"),
    )
