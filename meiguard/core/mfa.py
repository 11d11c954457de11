"""Two-factor sign-in with django-otp: TOTP devices plus single-use recovery codes (static tokens).

Password first (``LoginView``), then — for a user with a confirmed TOTP device — the one-time code
(``otp_verify``). Users who hold a role in ``MFA_REQUIRED_ROLES`` (or are superusers) and have no device
are sent to enrolment (``mfa_enrol``) before anything else. Until the second step is done, a session
reaches only those pages and logout, and the JSON API treats it as signed out.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from meiguard.audit import log as audit

from .access import Actor, build_actor
from .models import Membership, User

RECOVERY_DEVICE = "recovery"
NO_STEP_SESSION_KEY = "mg_mfa_not_needed"
TOTP_DEVICE = "authenticator"

# Reachable before the second factor: sign-in steps, logout, language switch, health check.
_OPEN_URL_NAMES = ("core:login", "core:logout", "core:otp_verify", "core:mfa_enrol", "core:healthz")
_OPEN_PREFIXES = ("/i18n/", "/static/")


def mfa_required(user: User | Any) -> bool:
    if not settings.MFA_ENFORCED or not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    required = set(settings.MFA_REQUIRED_ROLES)
    if not required:
        return False
    return Membership.objects.filter(
        user=user, is_active=True, organization__is_active=True, role__in=required
    ).exists()


def confirmed_totp(user: User | Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def pending_totp(user: User) -> TOTPDevice:
    """The unconfirmed device shown during enrolment (kept across reloads, so the QR code stays valid)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE, confirmed=False)
    return device


def qr_data_uri(text: str) -> str:
    """An inline SVG QR code (``data:`` URI, allowed by the CSP's img-src), drawn on the server."""
    import qrcode
    import qrcode.image.svg

    out = io.BytesIO()
    qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8).save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def secret_for_manual_entry(device: TOTPDevice) -> str:
    raw = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def _clean(code: str) -> str:
    return "".join(code.split())[:32]


def verify(user: User, code: str) -> TOTPDevice | StaticDevice | None:
    """The device that accepts ``code``: the authenticator app, or one unused recovery code (then spent)."""
    code = _clean(code)
    if not code:
        return None
    with transaction.atomic():
        totp = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        if totp is not None and code.isdigit() and totp.verify_is_allowed()[0] and totp.verify_token(code):
            return totp
        static = StaticDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        if static is not None and static.verify_is_allowed()[0] and static.verify_token(code):
            return static
    return None


def new_recovery_codes(actor: Actor, user: User) -> list[str]:
    """Replace the user's recovery codes with ``RECOVERY_CODE_COUNT`` fresh ones (shown once)."""
    device, _created = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_DEVICE, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(settings.RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    audit.record(actor, "core.user.recovery_codes_generated", user, after={"count": len(codes)})
    return codes


@transaction.atomic
def confirm_enrolment(request: HttpRequest, user: User, code: str) -> list[str] | None:
    """Confirm the pending device with a code from the app; returns the recovery codes, or None."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
    code = _clean(code)
    if device is None or not code.isdigit() or not device.verify_token(code):
        return None
    TOTPDevice.objects.filter(user=user, confirmed=True).delete()  # re-enrolment replaces the old app
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    actor = build_actor(user)
    audit.record(actor, "core.user.mfa_enrolled", user, after={"device": device.persistent_id})
    codes = new_recovery_codes(actor, user)
    otp_login(request, device)
    return codes


def safe_next(request: HttpRequest, fallback: str = "core:home") -> str:
    nxt = request.POST.get("next") or request.GET.get("next") or ""
    if nxt and url_has_allowed_host_and_scheme(nxt, {request.get_host()}, require_https=request.is_secure()):
        return nxt
    return reverse(fallback)


@receiver(user_logged_in, dispatch_uid="meiguard-mfa-step")
def _decide_step_at_sign_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    """At sign-in, note in the session when no second step is needed, so no request after it pays a query."""
    if request is None or not hasattr(request, "session"):
        return
    request.session.pop(NO_STEP_SESSION_KEY, None)
    if confirmed_totp(user) is None and not mfa_required(user):
        request.session[NO_STEP_SESSION_KEY] = user.pk


class MfaMiddleware:
    """Holds a password-only session at the second step (or at enrolment, for the required roles)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        step = self._pending_step(request)
        if step is None:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            # The API sees no session user; a bearer token still works.
            request.user = AnonymousUser()
            return self.get_response(request)
        if request.path.startswith(_OPEN_PREFIXES) or request.path in {reverse(n) for n in _OPEN_URL_NAMES}:
            return self.get_response(request)
        target = reverse(step)
        if request.method == "GET":
            target += "?" + urlencode({"next": request.get_full_path()})
        return HttpResponseRedirect(target)

    @staticmethod
    def _pending_step(request: HttpRequest) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        # A session already found to need no second factor is not asked again (no query per request);
        # a role granted later applies from the next sign-in.
        if request.session.get(NO_STEP_SESSION_KEY) == user.pk or user.is_verified():
            return None
        if confirmed_totp(user) is not None:
            return "core:otp_verify"
        if mfa_required(user):
            return "core:mfa_enrol"
        request.session[NO_STEP_SESSION_KEY] = user.pk
        return None
