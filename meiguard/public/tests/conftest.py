"""The public side's test world (the inventory world: 甲诊所, 李医生, a toxin box with trace codes, a case) and
the personal-data guard: every response to a public URL (``/p/…``, ``/robots.txt``) made by any test in this
folder is collected, and after each test scanned for ID numbers, mobile numbers, e-mail addresses and the
personal fields of every client, practitioner, user and complainant in the database. A hit fails that test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from django.test import Client as DjangoClient

from meiguard.inventory.tests.conftest import Inv, clin, clinic, inv, make_inv, trace_codes  # noqa: F401

PUBLIC_PREFIXES = ("/p/", "/robots.txt")
ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
PHONE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")

COLLECTED: list[tuple[str, str]] = []  # (path, body + headers) of every public response in this test


def _text(response: Any) -> str:
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content)
        response.streaming_content = [body]
    else:
        body = response.content
    # Random hex identifiers (request id, content hash) can look like a number; they carry no data.
    headers = "\n".join(f"{k}: {v}" for k, v in response.items() if k not in ("X-Request-ID", "ETag"))
    return headers + "\n" + body.decode("utf-8", "replace")


@pytest.fixture(autouse=True)
def _collect_public_responses(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    original = DjangoClient.request

    def request(self: DjangoClient, **environ: Any) -> Any:
        response = original(self, **environ)
        path = environ.get("PATH_INFO", "")
        if path.startswith(PUBLIC_PREFIXES):
            COLLECTED.append((path, _text(response)))
        return response

    monkeypatch.setattr(DjangoClient, "request", request)
    COLLECTED.clear()
    yield
    found = scan(COLLECTED, personal_values())
    COLLECTED.clear()
    assert not found, f"personal data in public responses: {found[:5]}"


def personal_values() -> set[str]:
    """Every personal field of the people in the database (clients, practitioners, users)."""
    from meiguard.clinical.models import Client
    from meiguard.complaints.models import Complaint
    from meiguard.core.models import User
    from meiguard.registry.models import Practitioner

    values: set[str] = set()
    try:
        for c in Client.objects.all():
            values |= {c.name, c.phone, c.id_number, c.date_of_birth.isoformat()}
        for p in Practitioner.objects.all():
            values.add(p.id_number)
        for u in User.objects.all():
            values |= {u.email}
        for c in Complaint.objects.all():  # complainants (the public complaint form)
            values |= {c.complainant_name, c.complainant_contact}
    except Exception:  # a test without the database: only the patterns apply
        return set()
    return {v for v in values if v and len(v) >= 2}


def scan(responses: list[tuple[str, str]], values: set[str]) -> list[tuple[str, str]]:
    found = []
    for path, raw in responses:
        text = unquote(unquote(raw))  # "%2529" + digits in an encoded link would look like one long number
        for pattern, kind in ((ID_NUMBER, "id_number"), (PHONE, "phone"), (EMAIL, "email")):
            m = pattern.search(text)
            if m:
                found.append(
                    (path, f"{kind}: {m.group(0)} in …{text[max(0, m.start() - 80) : m.end() + 20]}…")
                )
        for v in values:
            if v in text:
                found.append((path, f"field: {v}"))
    return found


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Rendered public pages live in the cache: none may survive from another test's database."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def anon() -> DjangoClient:
    return DjangoClient()
