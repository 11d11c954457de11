from __future__ import annotations

from django.utils.functional import Promise


class ActionError(Exception):
    """A guard failed: a 4xx ``{code, message, field}`` in the API, a form error in pages."""

    status = 400

    def __init__(
        self,
        code: str,
        message: str | Promise,
        *,
        field: str | None = None,
        status: int = 400,
        details: list[dict[str, str]] | None = None,
    ):
        super().__init__(str(message))
        self.code = code
        self.message = message
        self.field = field
        self.status = status
        # Itemised causes (``{field, code, message}``), returned as the envelope's ``errors``.
        self.details = details or []


class FieldErrors(ActionError):
    """Several invalid fields at once (server-side validation)."""

    def __init__(self, errors: dict[str, list[str]]):
        first_field, first_messages = next(iter(errors.items()))
        super().__init__("INVALID", first_messages[0], field=first_field, status=422)
        self.errors = errors
