"""meiguard settings: one module, read from the environment (see docs/operations.md).

Defaults are for development only. With DEBUG off, SECRET_KEY and FIELD_ENCRYPTION_KEY
must be given, or start-up fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env(name: str, default: str = "") -> str:
    """Read NAME, or the contents of the file named by NAME_FILE (for secrets)."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text(encoding="utf-8").strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
TESTING = env_bool("MEIGUARD_TESTING", False)

_DEV_SECRET = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnop"
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = _DEV_SECRET

# Key for ID numbers and other fields encrypted at rest (Fernet, urlsafe base64 of 32 bytes).
FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY")
if not FIELD_ENCRYPTION_KEY and not DEBUG:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be set when DEBUG is off")

# Audit chain key (HMAC-SHA256, docs/decisions/0008-audit-keyed-chain.md). Never stored in the database.
# AUDIT_KEY (or AUDIT_KEY_FILE) signs new entries and checkpoints under AUDIT_KEY_ID; retired keys stay readable
# for verification as AUDIT_OLD_KEYS="id:key,id:key" (or AUDIT_OLD_KEYS_FILE).
AUDIT_KEY = env("AUDIT_KEY")
AUDIT_KEY_ID = env("AUDIT_KEY_ID", "k1")
if not AUDIT_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("AUDIT_KEY (or AUDIT_KEY_FILE) must be set when DEBUG is off")
    # Development and tests only: derived from the (dev) secret key and labelled so it can never pass as real.
    import hashlib as _hashlib
    import hmac as _hmac

    AUDIT_KEY = _hmac.new(SECRET_KEY.encode(), b"meiguard-audit-dev-only", _hashlib.sha256).hexdigest()
    AUDIT_KEY_ID = "dev-only"
AUDIT_OLD_KEYS = env("AUDIT_OLD_KEYS")
# Where the scheduled `audit_checkpoint` job appends signed chain heads (a mount of another host / WORM store).
AUDIT_CHECKPOINT_DIR = env("AUDIT_CHECKPOINT_DIR")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# A refused form (stale page, signed out elsewhere) gets the styled page with a way back, not Django's.
CSRF_FAILURE_VIEW = "meiguard.core.errorviews.csrf_failure"
# Only honour X-Forwarded-For when a trusted reverse proxy sets it.
USE_X_FORWARDED_FOR = env_bool("USE_X_FORWARDED_FOR", False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "meiguard.core",
    "meiguard.audit",
    "meiguard.rules",
    "meiguard.registry",
    "meiguard.authz",
    "meiguard.notify",
    "meiguard.workflow",
    "meiguard.lifecycle",
    "meiguard.reviews",
    "meiguard.bulk",
    "meiguard.workspace",
    "meiguard.clinical",
    "meiguard.equipment",
    "meiguard.aftercare",
    "meiguard.complaints",
    "meiguard.compliance",
    "meiguard.inventory",
    "meiguard.public",
    "meiguard.demo",
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Cached public pages (/p/, no login) answered here, before sessions and the rest (docs/public.md).
    "meiguard.public.middleware.PublicPageCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "meiguard.core.edge.ApiEdgeMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "meiguard.core.middleware.RequestContextMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "meiguard.urls"
WSGI_APPLICATION = "meiguard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "meiguard.core.context_processors.actor",
                "meiguard.core.context_processors.idle_lock",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
# PostgreSQL: the compiled hot-path queries (lib/fixedsql: decision snapshots, clinical search and look-backs)
# are prepared on the server once per connection (ADR 0020). Turn off behind a pooler that cannot carry
# protocol-level prepared statements (PgBouncer transaction pooling before 1.21, or max_prepared_statements = 0).
DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update({"timeout": 20, "transaction_mode": "IMMEDIATE"})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"

PRODUCTION_PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
PASSWORD_HASHERS = PRODUCTION_PASSWORD_HASHERS
if TESTING:
    # Argon2 is deliberately slow; tests that are not about hashing use a fast hasher.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Login-failure handling (等保 DP-04): lock after N failures for a cool-off period.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("LOGIN_LOCKOUT_MINUTES", 30) / 60  # hours
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "core/locked_out.html"
AXES_ENABLED = env_bool("AXES_ENABLED", True)

# Idle session timeout (DP-04): idle past SESSION_IDLE_MINUTES (SHARED_DEVICE_IDLE_MINUTES on a device marked as
# a shared tablet), the session locks: the page and its form stay behind a lock that asks for the password (and
# the authenticator code) again (core/idle.py). A locked session ends SESSION_LOCK_HOLD_MINUTES later; every
# request renews the cookie.
SESSION_IDLE_SECONDS = env_int("SESSION_IDLE_MINUTES", 30) * 60
SHARED_DEVICE_IDLE_SECONDS = env_int("SHARED_DEVICE_IDLE_MINUTES", 5) * 60
SESSION_LOCK_HOLD_SECONDS = env_int("SESSION_LOCK_HOLD_MINUTES", 120) * 60
SESSION_COOKIE_AGE = SESSION_IDLE_SECONDS + SESSION_LOCK_HOLD_SECONDS
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "core:login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "meiguard" / "static"]
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
MEDIA_URL = "media/"
# Evidence files (licences, certificates, agreements): size limit and allowed types.
EVIDENCE_MAX_BYTES = env_int("EVIDENCE_MAX_BYTES", 10 * 1024 * 1024)
EVIDENCE_EXTENSIONS = ["pdf", "jpg", "jpeg", "png"]

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "meiguard@localhost")
# Absolute base for links in e-mails and exported reports.
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# The decision engine keeps snapshot *generations* in this cache: with several worker processes it must be
# shared (Redis), or a write in one process would not invalidate the snapshots cached by the others.
CACHE_URL = env("CACHE_URL", "locmem://")
if CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
elif CACHE_URL.startswith("locmem://"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    raise ImproperlyConfigured(f"CACHE_URL must be locmem:// or redis://host:port/db, got {CACHE_URL!r}")

# Which rule-pack directory the `load_rule_pack --builtin` command reads.
RULE_PACK_DIR = BASE_DIR / "meiguard" / "rules" / "packs"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# Background work (django-tasks). The database backend stores tasks for `manage.py db_worker`;
# tests run them in-process. Jobs are enqueued on commit and take ids, so a rerun is harmless.
TASKS = {
    "default": {
        "BACKEND": env(
            "TASKS_BACKEND",
            "django_tasks.backends.immediate.ImmediateBackend"
            if TESTING
            else "django_tasks_db.DatabaseBackend",
        ),
        "QUEUES": ["default"],
    }
}
# When `run_scheduler` (loop mode) enqueues the daily jobs, local time HH:MM.
SCHEDULER_DAILY_AT = env("SCHEDULER_DAILY_AT", "01:00")

# ---- Access hardening (issue 11 §5–8): rate limits, lockout, MFA, API tokens, CSP, files, server ----------
# Kept in one block so it merges cleanly; docs/operations.md explains every variable.

# Reverse proxy: how many trusted proxies append to X-Forwarded-For (only read when USE_X_FORWARDED_FOR is
# on). The client is the address the outermost trusted proxy saw, so a forged header cannot pick the IP.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1)
if TRUSTED_PROXY_COUNT < 1:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be at least 1")
# django-axes: lock a username *from one address* (one attacker cannot lock everybody out), using the same
# client address as the audit log.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "meiguard.core.middleware.client_ip"


def env_rate(name: str, default: str) -> tuple[int, int]:
    """``N/S``: at most N units per S seconds (sliding window). ``0/S`` switches the limit off."""
    raw = env(name, default).strip()
    try:
        count, seconds = (int(part) for part in raw.split("/", 1))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must look like 30/300 (count/seconds), got {raw!r}") from exc
    if count < 0 or not 1 <= seconds <= 86400:
        raise ImproperlyConfigured(f"{name}: count must be >= 0 and seconds 1–86400, got {raw!r}")
    return count, seconds


# Rate limits, counted in the default cache (Redis in production, so every worker shares the counts).
RATE_LIMITS_ENABLED = env_bool("RATE_LIMITS_ENABLED", True)
RATE_LIMITS = {
    # login attempts per client address (any usernames), on top of axes' per-user+address lockout
    "login": env_rate("RATE_LIMIT_LOGIN", "30/300"),
    # one-time-password attempts per signed-in user
    "otp": env_rate("RATE_LIMIT_OTP", "10/300"),
    # failed bearer-token authentications per client address
    "token_failure": env_rate("RATE_LIMIT_TOKEN_FAILURES", "20/300"),
    # API calls per token (or per signed-in user)
    "api_calls": env_rate("RATE_LIMIT_API_CALLS", "600/60"),
    # API cost per token: a decision costs its product count (at least 1), a batch the sum of its items
    "api_cost": env_rate("RATE_LIMIT_API_COST", "20000/60"),
    # public pages without login (meiguard/public): searches and lookups per client address
    "public_lookup": env_rate("RATE_LIMIT_PUBLIC_LOOKUP", "120/60"),
    # public verification (a scanned case QR, a UDI or trace code) per client address
    "public_verify": env_rate("RATE_LIMIT_PUBLIC_VERIFY", "60/60"),
    # complaints and reports from the public: submissions (valid or not) per client address per hour
    "public_complaint": env_rate("RATE_LIMIT_PUBLIC_COMPLAINT", "10/3600"),
    # the public complaint status lookup (tracking number + last four phone digits) per client address per hour
    "public_complaint_status": env_rate("RATE_LIMIT_PUBLIC_COMPLAINT_STATUS", "30/3600"),
}

# Public side (docs/public.md): how long a case's verification QR code stays valid, and how long public pages
# may be cached (by browsers and proxies, and rendered in the server cache).
PUBLIC_VERIFY_TOKEN_TTL = int(os.environ.get("PUBLIC_VERIFY_TOKEN_TTL", "1800"))
PUBLIC_CACHE_SECONDS = int(os.environ.get("PUBLIC_CACHE_SECONDS", "300"))
# The public complaint form asks a small sum once this many submissions came from one address within the hour
# (2: from the third submission on).
PUBLIC_COMPLAINT_CHALLENGE_AFTER = int(os.environ.get("PUBLIC_COMPLAINT_CHALLENGE_AFTER", "2"))

# Two-factor sign-in (等保 三级: administrators identify with two factors). Users holding any of these roles
# (or a superuser) must enrol a TOTP device before anything else; everyone else may enrol. Empty = optional
# for all (development only; documented in docs/operations.md).
MFA_REQUIRED_ROLES = env_list(
    "MFA_REQUIRED_ROLES", "platform_admin,institution_admin,compliance_officer,medical_director"
)
MFA_ENFORCED = env_bool("MFA_ENFORCED", True)
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", "meiguard")
RECOVERY_CODE_COUNT = 10

# API tokens: lifetime at creation (days), its upper bound, and how long a rotated secret keeps working.
API_TOKEN_DEFAULT_DAYS = env_int("API_TOKEN_DEFAULT_DAYS", 90)
API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 365)
API_TOKEN_ROTATION_GRACE_HOURS = env_int("API_TOKEN_ROTATION_GRACE_HOURS", 24)
if not 1 <= API_TOKEN_DEFAULT_DAYS <= API_TOKEN_MAX_DAYS <= 3650:
    raise ImproperlyConfigured("need 1 <= API_TOKEN_DEFAULT_DAYS <= API_TOKEN_MAX_DAYS <= 3650")

INSTALLED_APPS += [
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "django_otp.middleware.OTPMiddleware",
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "csp.middleware.CSPMiddleware"
)
MIDDLEWARE += [
    "meiguard.core.mfa.MfaMiddleware",
    "meiguard.core.idle.IdleLockMiddleware",
    "meiguard.core.middleware.NoStoreMiddleware",
    "meiguard.core.ratelimit.RateLimitMiddleware",
]

# Content-Security-Policy (django-csp): scripts and styles only from our own origin, no inline code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # Computed widths and chart fills are style *attributes*; they cannot run code.
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

# Uploaded files (evidence, agreements) are encrypted at rest with FIELD_ENCRYPTION_KEY and served only
# through permission-checked views; there is no public media URL.
STORAGES["default"] = {"BACKEND": "meiguard.registry.storage.EncryptedFileSystemStorage"}

# Production server (scripts/serve): gunicorn workers. Several workers need a shared cache (Redis) for the
# rate limits and the decision engine's snapshot generations.
WEB_WORKERS = env_int("WEB_WORKERS", 1)
if WEB_WORKERS > 1 and not CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(
        f"WEB_WORKERS={WEB_WORKERS} needs a shared cache: set CACHE_URL=redis://host:6379/0 "
        "(with locmem:// every worker would keep its own rate-limit counts and snapshot generations)"
    )
