"""PDFs of the treatment case (WeasyPrint with the Noto CJK fonts, like the review reports): the signed
informed consent (template text, version, content hash, the drawn signature, time and signer) and the case
summary (client, consent, assessment, review, checklist, record, products with their lots)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone

from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField

from . import queries
from .models import (
    Assessment,
    ChecklistNode,
    ConsentSignature,
    Consultation,
    OperationRecord,
    Review,
    Usage,
)

PDF = "application/pdf"


def attachment(content: bytes, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=PDF)
    response["Content-Disposition"] = f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"
    response["Cache-Control"] = "no-store"
    return response


def _render(template: str, ctx: dict[str, Any]) -> bytes:
    from weasyprint import HTML

    html = render_to_string(template, ctx | {"generated_at": timezone.localtime()})
    return bytes(HTML(string=html).write_pdf())


def consent_pdf(actor: Actor, case_id: int, consent_id: int) -> bytes:
    case = queries.case(actor, case_id)  # 404 when foreign
    sig = ConsentSignature.objects.filter(case=case, pk=consent_id).select_related("template").first()
    if sig is None:
        raise NotFoundField("consent_id")
    return _render(
        "clinical/pdf_consent.html", {"case": case, "client": case.client, "sig": sig, "tpl": sig.template}
    )


def case_pdf(actor: Actor, case_id: int) -> bytes:
    case = queries.case(actor, case_id)
    consultation = Consultation.objects.filter(case=case).select_related("doctor").first()
    review = Review.objects.filter(case=case).first()
    record = OperationRecord.objects.filter(case=case).select_related("operator", "decision").first()
    ctx = {
        "case": case,
        "client": case.client,
        "consultation": consultation,
        "items": list(consultation.items.all()) if consultation else [],
        "consents": list(ConsentSignature.objects.filter(case=case).order_by("signed_at", "pk")),
        "assessment": Assessment.objects.filter(case=case)
        .select_related("chief_signed_by", "anesthetist_signed_by")
        .first(),
        "review": review,
        "votes": list(review.votes.select_related("user")) if review else [],
        "nodes": list(
            ChecklistNode.objects.filter(case=case).select_related("surgeon", "anesthetist", "nurse")
        ),
        "record": record,
        "usages": list(Usage.objects.filter(record=record).select_related("lot__product", "device__product"))
        if record
        else [],
    }
    return _render("clinical/pdf_case.html", ctx)
