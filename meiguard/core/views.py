from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from . import idle, mfa, ratelimit, tokens
from .choices import Role
from .errors import ActionError
from .forms import OtpForm, TokenForm, UnlockForm
from .models import TokenScope


class LoginView(auth_views.LoginView):
    """Password step. Attempts are rate-limited per client address (axes locks username + address)."""

    template_name = "core/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        ratelimit.charge("login", ratelimit.client_key(request))
        return super().post(request, *args, **kwargs)


def otp_verify(request: HttpRequest) -> HttpResponse:
    """Second step: a code from the authenticator app, or one recovery code."""
    if not request.user.is_authenticated:
        return redirect("core:login")
    if request.user.is_verified() or mfa.confirmed_totp(request.user) is None:  # type: ignore[union-attr, attr-defined]
        return redirect(mfa.safe_next(request))
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ratelimit.charge("otp", f"user-{request.user.pk}")
        device = mfa.verify(request.user, form.cleaned_data["code"])  # type: ignore[arg-type]
        if device is not None:
            mfa.otp_login(request, device)
            if device.name == mfa.RECOVERY_DEVICE:
                left = device.token_set.count()  # type: ignore[union-attr]
                messages.warning(request, _("已使用一个恢复码,还剩 %(n)s 个") % {"n": left})
            return redirect(mfa.safe_next(request))
        form.add_error("code", _("验证码不正确或已过期"))
    return render(request, "core/otp_verify.html", {"form": form, "next": mfa.safe_next(request)})


def mfa_enrol(request: HttpRequest) -> HttpResponse:
    """Enrolment: scan the QR code, confirm with a code; recovery codes are shown once."""
    if not request.user.is_authenticated:
        return redirect("core:login")
    user = request.user
    if mfa.confirmed_totp(user) is not None and not user.is_verified():  # type: ignore[union-attr, attr-defined]
        return redirect("core:otp_verify")  # replacing a device needs the current one first
    device = mfa.pending_totp(user)  # type: ignore[arg-type]
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ratelimit.charge("otp", f"user-{user.pk}")
        codes = mfa.confirm_enrolment(request, user, form.cleaned_data["code"])  # type: ignore[arg-type]
        if codes is not None:
            return render(
                request, "core/recovery_codes.html", {"codes": codes, "next": mfa.safe_next(request)}
            )
        form.add_error("code", _("验证码不正确或已过期"))
    ctx = {
        "form": form,
        "qr": mfa.qr_data_uri(device.config_url),
        "secret": mfa.secret_for_manual_entry(device),
        "required": mfa.mfa_required(user),
        "next": mfa.safe_next(request),
    }
    return render(request, "core/mfa_enrol.html", ctx)


@login_required
def security(request: HttpRequest) -> HttpResponse:
    """账户安全: two-factor status, recovery codes and the user's API tokens."""
    actor = request.actor  # type: ignore[attr-defined]
    ctx = {
        "device": mfa.confirmed_totp(request.user),
        "mfa_required": mfa.mfa_required(request.user),
        "tokens": tokens.visible_tokens(actor),
        "token_form": TokenForm(),
        "scope_labels": dict(TokenScope.choices),
    }
    return render(request, "core/security.html", ctx)


@login_required
@require_POST
def recovery_codes_new(request: HttpRequest) -> HttpResponse:
    if mfa.confirmed_totp(request.user) is None:
        return redirect("core:security")
    codes = mfa.new_recovery_codes(request.actor, request.user)  # type: ignore[attr-defined, arg-type]
    return render(request, "core/recovery_codes.html", {"codes": codes, "next": "/account/security/"})


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    if form.is_valid():
        try:
            token, raw = tokens.create_token(
                request.actor,  # type: ignore[attr-defined]
                request.user,  # type: ignore[arg-type]
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                days=form.cleaned_data["days"],
            )
        except ActionError as exc:
            messages.error(request, str(exc.message))
            return redirect("core:security")
        return render(request, "core/token_secret.html", {"token": token, "raw": raw})
    for errors in form.errors.values():
        for e in errors:
            messages.error(request, str(e))
    return redirect("core:security")


@login_required
@require_POST
def token_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        token, raw = tokens.rotate_token(request.actor, pk)  # type: ignore[attr-defined]
    except ActionError as exc:
        messages.error(request, str(exc.message))
        return redirect("core:security")
    return render(request, "core/token_secret.html", {"token": token, "raw": raw, "rotated": True})


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        tokens.revoke_token(request.actor, pk)  # type: ignore[attr-defined]
    except ActionError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("令牌已吊销"))
    return redirect("core:security")


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


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's language switch; a signed-in person's choice is also kept on their account (audited), so the
    notices e-mailed to them are written in it (notify.tasks.recipient_language)."""
    response = django_set_language(request)
    chosen = request.POST.get("language", "")
    user = request.user
    if user.is_authenticated and chosen in dict(settings.LANGUAGES) and user.language != chosen:
        from meiguard.audit import log as audit

        from .models import User

        with transaction.atomic():
            before = user.language
            User.objects.filter(pk=user.pk).update(language=chosen)
            user.language = chosen
            audit.record(
                request.actor,  # type: ignore[attr-defined]
                "core.user.language_set",
                user,
                before={"language": before},
                after={"language": chosen},
            )
    return response


# ---- the idle lock (core/idle.py) --------------------------------------------------------------------


def _envelope(code: str, message: str, status: int, field: str | None = None) -> JsonResponse:
    from .apierrors import error_body

    return JsonResponse(
        error_body(code, message, field), status=status, json_dumps_params={"ensure_ascii": False}
    )


def unlock(request: HttpRequest) -> HttpResponse:
    """Unlock a locked session: the same person's password (axes and the login rate limit count it, as on the
    login form) and, with an authenticator, its code. JSON for the page's lock, a page otherwise."""
    as_json = idle.wants_json(request)
    if not request.user.is_authenticated:
        if as_json:
            return _envelope("UNAUTHENTICATED", _("会话已结束,请重新登录"), 401)
        return redirect("core:login")
    nxt = mfa.safe_next(request)
    form = UnlockForm(request.POST or None)
    needs_code = mfa.confirmed_totp(request.user) is not None if request.method == "POST" else False
    if request.method != "POST":
        if not idle.is_locked(request):
            return redirect(nxt)
        return render(
            request, "core/unlock.html", {"form": form, "next": nxt, "locked_page": True, "bare": True}
        )

    def refuse(code: str, message: str, status: int, field: str | None = None) -> HttpResponse:
        idle.unlock_failed(request, code)
        if as_json:
            return _envelope(code, message, status, field)
        form.add_error(None, message)
        return render(
            request,
            "core/unlock.html",
            {"form": form, "next": nxt, "locked_page": True, "bare": True},
            status=status,
        )

    if not form.is_valid():
        first = next(iter(form.errors.items()))
        if as_json:
            return _envelope("INVALID", str(first[1][0]), 400, first[0])
        return render(
            request,
            "core/unlock.html",
            {"form": form, "next": nxt, "locked_page": True, "bare": True},
            status=400,
        )
    claimed = form.cleaned_data.get("user")
    if claimed is not None and claimed != request.user.pk:
        # The page under the lock was another person's (someone signed in elsewhere meanwhile).
        return refuse("OTHER_USER", _("此页面属于另一位用户,请重新登录"), 409)
    try:
        ratelimit.charge("login", ratelimit.client_key(request))
    except ratelimit.RateLimited as exc:
        if not as_json:
            raise
        response = _envelope("RATE_LIMITED", exc.message, 429)
        response["Retry-After"] = str(exc.retry_after)
        return response
    user = request.user
    who = authenticate(request, username=user.get_username(), password=form.cleaned_data["password"])
    if getattr(request, "axes_locked_out", False):
        idle.unlock_failed(request, "LOCKED_OUT")
        logout(request)
        if not as_json:
            return redirect("core:login")  # AxesMiddleware answers with its lockout page, as at login
        request.axes_locked_out = False  # type: ignore[attr-defined]  # answered here, in the envelope
        return _envelope("LOCKED_OUT", _("密码错误次数过多,账户已暂时锁定。请稍后重新登录。"), 429)
    if who is None or who.pk != user.pk:
        return refuse("WRONG_PASSWORD", _("密码不正确"), 400, "password")
    if needs_code:
        code = form.cleaned_data.get("code") or ""
        if not code:
            return refuse("CODE_REQUIRED", _("请输入身份验证器中的验证码"), 400, "code")
        ratelimit.charge("otp", f"user-{user.pk}")
        device = mfa.verify(user, code)  # type: ignore[arg-type]
        if device is None:
            return refuse("WRONG_CODE", _("验证码不正确或已过期"), 400, "code")
        mfa.otp_login(request, device)
    from axes.handlers.proxy import AxesProxyHandler

    AxesProxyHandler.user_logged_in(
        sender=type(user), request=request, user=user
    )  # failures reset, as at login
    idle.unlocked(request)
    if as_json:
        return JsonResponse({"unlocked": True, "idle_seconds": idle.idle_seconds(request)})
    return redirect(nxt)


@require_POST
def lock(request: HttpRequest) -> HttpResponse:
    """The page locked itself at the idle limit: lock the session now too (the server would at its next
    request anyway)."""
    if not request.user.is_authenticated:
        return _envelope("UNAUTHENTICATED", _("会话已结束,请重新登录"), 401)
    idle.lock(request, why="page")
    return JsonResponse({"locked": True})


@require_POST
def keepalive(request: HttpRequest) -> HttpResponse:
    """The person is working on the page: the middleware has renewed the session; nothing else to do."""
    if not request.user.is_authenticated:
        return _envelope("UNAUTHENTICATED", _("会话已结束,请重新登录"), 401)
    return JsonResponse({"idle_seconds": idle.idle_seconds(request)})


@login_required
@require_POST
def shared_device(request: HttpRequest) -> HttpResponse:
    """Mark (or unmark) this browser as a shared tablet: a cookie on the device, not a user setting."""
    shared = request.POST.get("shared") == "1"
    response = redirect("core:security")
    if shared:
        response.set_cookie(
            idle.SHARED_COOKIE,
            "1",
            max_age=365 * 24 * 3600,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
        messages.success(
            request,
            _("已将此设备设为共用平板:空闲 %(n)s 分钟即锁定")
            % {"n": settings.SHARED_DEVICE_IDLE_SECONDS // 60},
        )
    else:
        response.delete_cookie(idle.SHARED_COOKIE, samesite="Lax")
        messages.success(request, _("此设备不再作为共用平板"))
    return response
