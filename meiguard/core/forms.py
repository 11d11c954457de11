"""The page forms' share of the input edge (the API's is ``core/schemas.py``).

``EdgeFormMixin`` goes first in every form's bases. Before Django cleans the fields it refuses numbers and ids
written with other than ASCII digits or beyond a 64-bit column (``int("١٢٣")`` would be 123, and an id beyond
2^63−1 would overflow the database query); after cleaning it refuses control characters in text (tab and line
breaks only in free-text fields such as notes and reasons, see ``schemas.is_multiline``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import TokenScope
from .schemas import MAX_ID, control_character_error, is_multiline

_NUMERIC = (forms.IntegerField, forms.DecimalField, forms.FloatField, forms.ModelChoiceField)


def _number_problem(raw: str) -> str | None:
    text = raw.strip()
    if not text:
        return None
    if not text.isascii():
        return _("请输入数字(仅限半角数字 0-9)")
    digits = text.lstrip("+-").split(".")[0]
    if digits.isdigit() and (len(digits) > 19 or int(digits) > MAX_ID):
        return _("不能大于 %(n)s") % {"n": MAX_ID}
    return None


class EdgeFormMixin:
    def full_clean(self) -> None:
        form: Any = self
        problems: dict[str, str] = {}
        if form.is_bound:
            for name, field in form.fields.items():
                if not isinstance(field, _NUMERIC):
                    continue
                key = form.add_prefix(name)
                values = form.data.getlist(key) if hasattr(form.data, "getlist") else [form.data.get(key)]
                for raw in values:
                    problem = _number_problem(raw) if isinstance(raw, str) else None
                    if problem:
                        problems[name] = problem
            if problems:
                form.data = form.data.copy()
                for name in problems:
                    form.data[form.add_prefix(name)] = ""
        super().full_clean()  # type: ignore[misc]
        if not form.is_bound:
            return
        for name, problem in problems.items():
            if name in form.fields:
                form.add_error(name, problem)
        for name, value in list(getattr(form, "cleaned_data", {}).items()):
            if isinstance(value, str):
                text_problem = control_character_error(value, multiline=is_multiline(name))
                if text_problem:
                    form.add_error(name, text_problem)


class OtpForm(EdgeFormMixin, forms.Form):
    code = forms.CharField(
        label=gettext_lazy("验证码"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class UnlockForm(EdgeFormMixin, forms.Form):
    """The idle lock: the same person's password, their authenticator code if they have one, and the id of the
    user the locked page was shown to (``user``, optional)."""

    password = forms.CharField(
        label=gettext_lazy("密码"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
    code = forms.CharField(
        label=gettext_lazy("验证码"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
    user = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


class TokenForm(EdgeFormMixin, forms.Form):
    name = forms.CharField(label=gettext_lazy("名称"), max_length=64)
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("权限范围"),
        choices=TokenScope.choices,
        initial=[TokenScope.READ, TokenScope.DECIDE],
        widget=forms.CheckboxSelectMultiple,
    )
    days = forms.IntegerField(label=gettext_lazy("有效期(天)"), min_value=1, initial=90)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        days = self.fields["days"]
        days.validators.append(MaxValueValidator(settings.API_TOKEN_MAX_DAYS))
        days.widget.attrs["max"] = settings.API_TOKEN_MAX_DAYS
        days.initial = settings.API_TOKEN_DEFAULT_DAYS
