"""Pages without login under ``/p/`` (light layout, no staff navigation), and two staff pages under
``/publishing/``: the published price list and the case QR code. Thin: parse, call one query or action, render.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from meiguard.clinical import queries as clinical_queries
from meiguard.complaints import queries as complaint_queries
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.mfa import qr_data_uri
from meiguard.core.permissions import require
from meiguard.core.ratelimit import charge, client_key
from meiguard.rules.services import NoActivePack, resolve

from . import actions, complaint_form, permissions, queries, tokens
from . import cache as page_cache
from .models import PriceChange

View = Callable[..., HttpResponse]


def _english() -> bool:
    return (translation.get_language() or "").startswith("en")


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def public_page(max_age: int | None = None) -> Callable[[View], View]:
    """Cache-Control public + max-age, a strong ETag of the body, 304 on a matching If-None-Match."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            response = view(request, *args, **kwargs)
            if response.status_code != 200:
                return response
            etag = _etag(response.content)
            age = settings.PUBLIC_CACHE_SECONDS if max_age is None else max_age
            if etag in request.headers.get("If-None-Match", ""):
                response = HttpResponseNotModified()
            response["ETag"] = etag
            patch_cache_control(response, public=True, max_age=age)
            patch_vary_headers(response, ("Accept-Language", "Cookie"))
            # Without a query string the page is the same for every visitor: the middleware may keep it.
            response.public_cacheable = not request.META.get("QUERY_STRING")  # type: ignore[attr-defined]
            return response

        return wrapper

    return decorate


def _lookup(request: HttpRequest) -> None:
    charge("public_lookup", client_key(request))


def _page_number(request: HttpRequest) -> int:
    raw = request.GET.get("page", "1")
    return int(raw) if raw.isdigit() and len(raw) < 7 else 1


def _text(request: HttpRequest, name: str, limit: int = 64) -> str:
    return request.GET.get(name, "").strip()[:limit]


# ---- public pages --------------------------------------------------------------------------------


@require_GET
@public_page()
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "public/home.html", {"cities": queries.cities()})


@require_GET
@public_page()
def institutions(request: HttpRequest) -> HttpResponse:
    q, city = _text(request, "q"), _text(request, "city", 32)
    if q or city:
        _lookup(request)
    page = queries.directory(q=q, city=city, page=_page_number(request))
    return render(
        request,
        "public/institutions.html",
        {"page": page, "q": q, "city": city, "cities": queries.cities()},
    )


@require_GET
@public_page()
def institution(request: HttpRequest, pk: int) -> HttpResponse:
    body = page_cache.get("institution", pk)
    if body is None:
        view = queries.institution(pk, english=_english())
        if view is None:
            raise Http404("institution")
        response = render(request, "public/institution.html", {"v": view})
        page_cache.put("institution", pk, response.content)
        return response
    return HttpResponse(body)


@require_GET
@public_page()
def doctors(request: HttpRequest) -> HttpResponse:
    name = _text(request, "name", 64)
    raw_inst = request.GET.get("institution", "")
    institution_id = int(raw_inst) if raw_inst.isdigit() and len(raw_inst) < 12 else None
    people = None
    if name:
        _lookup(request)
        people = queries.find_people(name=name, institution_id=institution_id)
    return render(
        request,
        "public/doctors.html",
        {
            "name": name,
            "institution_id": institution_id,
            "people": people,
            "institutions": queries.institution_choices(),
        },
    )


@require_GET
def verify(request: HttpRequest) -> HttpResponse:
    code = request.GET.get("code", "")
    ctx: dict[str, Any] = {"code": code[:128]}
    status = 200
    if code.strip():
        charge("public_verify", client_key(request))
        try:
            ctx["product"] = queries.verify_code(queries.clean_code(code))
        except FieldErrors as exc:
            ctx["errors"] = [str(m) for msgs in exc.errors.values() for m in msgs]
            status = 422
    response = render(request, "public/verify.html", ctx, status=status)
    patch_cache_control(response, private=True, max_age=0)
    response["X-Robots-Tag"] = "noindex"
    return response


def _refused(request: HttpRequest, *, expired: bool) -> HttpResponse:
    response = render(
        request, "public/case_refused.html", {"expired": expired}, status=410 if expired else 404
    )
    response["X-Robots-Tag"] = "noindex, nofollow"
    patch_cache_control(response, no_store=True)
    return response


@require_GET
def case(request: HttpRequest, token: str) -> HttpResponse:
    try:
        case_id = tokens.read(token)
    except tokens.TokenExpired:
        charge("public_verify", client_key(request))
        return _refused(request, expired=True)
    except tokens.TokenInvalid:
        charge("public_verify", client_key(request))
        return _refused(request, expired=False)
    fingerprint = getattr(request, "public_case_fingerprint", None)  # counted by the middleware already
    if fingerprint is None:
        charge("public_verify", client_key(request))
        fingerprint = queries.case_fingerprint(case_id)
    if fingerprint is None:
        return _refused(request, expired=False)
    body = page_cache.get_case(fingerprint)
    if body is None:
        view = queries.case_view(case_id, english=_english())
        if view is None:
            return _refused(request, expired=False)
        response = render(request, "public/case.html", {"v": view, "checked_at": timezone.now()})
        page_cache.put_case(fingerprint, response.content)
    else:
        response = HttpResponse(body)
    response["X-Robots-Tag"] = "noindex, nofollow"
    patch_cache_control(response, private=True, no_store=True)
    response.public_case = True  # type: ignore[attr-defined]
    return response


@require_GET
def set_language(request: HttpRequest, code: str) -> HttpResponse:
    """The language switch of the public pages: a link (no form, no CSRF cookie, so pages stay cacheable)."""
    nxt = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}) or not nxt.startswith(
        "/p/"
    ):
        nxt = reverse("public:home")
    response = HttpResponseRedirect(nxt)
    if code in dict(settings.LANGUAGES):
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            code,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            samesite="Lax",
            secure=settings.LANGUAGE_COOKIE_SECURE,
        )
    return response


@require_GET
def robots(request: HttpRequest) -> HttpResponse:
    body = "\n".join(
        [
            "User-agent: *",
            "Allow: /p/$",
            "Allow: /p/institutions/",
            "Disallow: /p/c/",
            "Disallow: /p/verify/",
            "Disallow: /p/doctors/",
            "Disallow: /p/lang/",
            "Disallow: /p/complaints/",
            "Disallow: /",
            "",
        ]
    )
    response = HttpResponse(body, content_type="text/plain; charset=utf-8")
    patch_cache_control(response, public=True, max_age=86400)
    return response


# ---- complaints and reports from the public (complaint_form.py) ----------------------------------------


def _private(response: HttpResponse) -> HttpResponse:
    """Complaint pages: never cached anywhere, never indexed."""
    patch_cache_control(response, private=True, no_store=True)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _form_context(request: HttpRequest, values: dict[str, str]) -> dict[str, Any]:
    client = client_key(request)
    ctx: dict[str, Any] = {
        "values": values,
        "kinds": complaint_form.Kind.choices,
        "categories": [(c.value, c.label) for c in complaint_form.COMPLAINT_CATEGORIES],
        "institutions": queries.institution_choices(),
        "max_description": complaint_form.MAX_DESCRIPTION,
        "today": timezone.localdate().isoformat(),
    }
    if complaint_form.needs_challenge(client):
        ctx["challenge_question"], ctx["challenge_token"] = complaint_form.new_challenge()
    return ctx


# The fields a form page may show again after an error: never the name or the phone (a public response never
# carries the complainant's personal data; they are typed again).
REFILL = ("kind", "category", "institution", "description", "place", "related_on")


def complaint_new(request: HttpRequest) -> HttpResponse:
    if request.method in ("GET", "HEAD"):
        raw = request.GET.get("institution", "")
        values = {
            "institution": raw if raw.isdigit() and len(raw) < 12 else "",
            "kind": request.GET.get("kind", "")[:16],
        }
        return _private(render(request, "public/complaint_new.html", _form_context(request, values)))
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD, POST"})
    client = client_key(request)
    charge("public_complaint", client)
    data = {k: request.POST.get(k, "")[:4000] for k in (*REFILL, "name", "phone")}
    errors: dict[str, list[str]] = {}
    if complaint_form.needs_challenge(client):
        problem = complaint_form.check_challenge(
            request.POST.get("challenge_token", "")[:512], request.POST.get("challenge_answer", "")[:4]
        )
        if problem:
            errors["challenge"] = [problem]
    try:
        submission = complaint_form.clean(data)
    except FieldErrors as exc:
        errors = {**exc.errors, **errors}
    if not errors:
        try:
            complaint = complaint_form.submit(submission)
        except FieldErrors as exc:  # a validation of the complaints app
            errors = dict(exc.errors)
        except ActionError as exc:  # e.g. a tracking-number clash (409)
            errors = {"form": [str(exc.message)]}
    if errors:
        ctx = _form_context(request, {k: data[k] for k in REFILL})
        ctx["errors"] = errors
        ctx["error_list"] = [str(m) for msgs in errors.values() for m in msgs]
        return _private(render(request, "public/complaint_new.html", ctx, status=422))
    complaint_form.count_submission(client)
    # Post/redirect/get: a reload of the tracking page (a phone resuming a tab) never files twice.
    done = reverse("public:complaint_done", args=[complaint_form.done_token(complaint.tracking_no)])
    return _private(HttpResponseRedirect(done, status=303))


@require_GET
def complaint_done(request: HttpRequest, token: str) -> HttpResponse:
    """The tracking number page ("保存好您的查询号"), for an hour after submitting (a signed link)."""
    found = complaint_form.read_done_token(token)
    if found is None:
        return _private(render(request, "public/complaint_done.html", {"expired": True}, status=404))
    tracking_no, institution = found
    return _private(
        render(
            request, "public/complaint_done.html", {"tracking_no": tracking_no, "institution": institution}
        )
    )


def complaint_status(request: HttpRequest) -> HttpResponse:
    ctx: dict[str, Any] = {"no": ""}
    status = 200
    if request.method == "POST":
        charge("public_complaint_status", client_key(request))
        no = request.POST.get("no", "").strip().upper()[:32]
        tail = request.POST.get("tail", "").strip()[:8]
        errors: dict[str, list[str]] = {}
        if not no:
            errors["no"] = [_("请输入查询号")]
        if not (len(tail) == 4 and tail.isascii() and tail.isdigit()):
            errors["tail"] = [_("请输入手机号码后四位(4 位数字)")]
        ctx["no"] = no
        if errors:
            ctx["errors"] = errors
            status = 422
        else:
            found = complaint_queries.public_timeline(no, tail)
            if found is None:
                ctx["not_found"] = True
                status = 404
            else:
                ctx["found"] = complaint_form.status_view(found)
    elif request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD, POST"})
    return _private(render(request, "public/complaint_status.html", ctx, status=status))


# ---- staff pages ---------------------------------------------------------------------------------


def _actor(request: HttpRequest) -> Any:
    return request.actor  # type: ignore[attr-defined]


@login_required
def case_qr(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    found = clinical_queries.case(actor, pk)  # 404 when foreign
    require(actor, "public.case_qr", found)
    try:
        token = actions.issue_case_token(actor, pk)
    except ActionError as exc:
        return render(
            request, "public/staff_qr.html", {"case": found, "error": exc.message}, status=exc.status
        )
    url = request.build_absolute_uri(reverse("public:case", args=[token]))
    expires = timezone.now() + dt.timedelta(seconds=settings.PUBLIC_VERIFY_TOKEN_TTL)
    return render(
        request,
        "public/staff_qr.html",
        {"case": found, "qr": qr_data_uri(url), "url": url, "expires": expires},
    )


def _price_context(request: HttpRequest, institution_id: int | None) -> dict[str, Any]:
    actor = _actor(request)
    insts = permissions.price_institutions(actor)
    inst = next((i for i in insts if i.pk == institution_id), insts[0] if insts else None)
    rows: list[dict[str, Any]] = []
    history: list[PriceChange] = []
    if inst is not None:
        from meiguard.clinical.models import ProcedurePrice

        current = {
            p.procedure_code: p for p in ProcedurePrice.objects.visible_to(actor).filter(institution=inst)
        }
        try:
            procs = resolve(inst.province, timezone.localdate(), inst.pk).procedures
        except NoActivePack:
            procs = {}
        english = _english()
        for code, proc in procs.items():
            row = current.get(code)
            rows.append(
                {
                    "code": code,
                    "name": proc.name_en if english and proc.name_en else proc.name_zh,
                    "grade": proc.grade,
                    "price": row.price if row else None,
                    "published_at": row.published_at if row else None,
                }
            )
        rows.sort(key=lambda r: (r["price"] is None, r["grade"] or 0, r["name"]))
        history = list(
            PriceChange.objects.visible_to(actor)
            .filter(institution=inst)
            .select_related("changed_by")
            .order_by("-changed_at", "-pk")[:50]
        )
        names = {r["code"]: r["name"] for r in rows}
        for h in history:
            h.procedure_name = names.get(h.procedure_code, h.procedure_code)  # type: ignore[attr-defined]
    return {
        "institutions": insts,
        "inst": inst,
        "rows": rows,
        "history": history,
        "can_edit": inst is not None and permissions.can_set_price(actor, inst.organization_id),
    }


@login_required
def prices(request: HttpRequest) -> HttpResponse:
    require(_actor(request), "public.prices")
    raw = request.GET.get("institution", "")
    ctx = _price_context(request, int(raw) if raw.isdigit() and len(raw) < 12 else None)
    return render(request, "public/staff_prices.html", ctx)


@login_required
@require_POST
def price_set(request: HttpRequest, institution_id: int) -> HttpResponse:
    actor = _actor(request)
    require(actor, "public.prices")
    code = request.POST.get("procedure_code", "")[:64]
    try:
        price = actions.parse_price(request.POST.get("price", ""))
        change = actions.publish_price(actor, institution_id, procedure_code=code, price=price)
    except (FieldErrors, ActionError) as exc:
        ctx = _price_context(request, institution_id)
        if isinstance(exc, FieldErrors):
            ctx["errors"] = [str(m) for msgs in exc.errors.values() for m in msgs]
        else:
            ctx["errors"] = [str(exc.message)]
        ctx["error_code"] = code
        status = exc.status if isinstance(exc, ActionError) else 422
        return render(request, "public/staff_prices.html", ctx, status=status)
    if change is None:
        messages.info(request, _("价格未变化"))
    else:
        messages.success(request, _("公示价格已更新"))
    return redirect(reverse("publishing:prices") + f"?institution={institution_id}")
