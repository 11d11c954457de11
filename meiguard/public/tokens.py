"""The case QR token: ``TimestampSigner`` over ``{"c": case id, "p": "verify"}`` — no personal data inside.

Valid for ``settings.PUBLIC_VERIFY_TOKEN_TTL`` seconds (default 30 minutes); the signature binds the purpose,
so a token signed for anything else (another salt or purpose) is refused.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing

SALT = "meiguard.public.case-verify"
PURPOSE = "verify"


class TokenExpired(Exception):
    pass


class TokenInvalid(Exception):
    pass


def make(case_id: int) -> str:
    return signing.TimestampSigner(salt=SALT).sign_object({"c": int(case_id), "p": PURPOSE}, compress=True)


def read(token: str) -> int:
    """The case id, or ``TokenExpired`` / ``TokenInvalid``."""
    if not token or len(token) > 200:
        raise TokenInvalid()
    try:
        data = signing.TimestampSigner(salt=SALT).unsign_object(
            token, max_age=settings.PUBLIC_VERIFY_TOKEN_TTL
        )
    except signing.SignatureExpired:
        raise TokenExpired() from None
    except (signing.BadSignature, ValueError):
        raise TokenInvalid() from None
    if not isinstance(data, dict) or data.get("p") != PURPOSE or not isinstance(data.get("c"), int):
        raise TokenInvalid()
    return int(data["c"])
