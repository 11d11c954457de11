"""Registry admin: inspection first. Querysets go through ``visible_to``; saves call the same actions
as the API and pages (so validation and audit are identical); deletion is disabled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from meiguard.core.admin import TenantAdminMixin, actor_of
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.models import Organization, User
from meiguard.rules.choices import Subject

from . import actions
from .models import (
    Device,
    DistributionAuthorization,
    Institution,
    Lot,
    Practitioner,
    PractitionerSite,
    Product,
    Qualification,
    Supplier,
)
from .validators import normalize_code

TENANT_FK_MODELS = (Organization, Institution, Practitioner, Supplier, Product)


class ActionAdmin(TenantAdminMixin, admin.ModelAdmin):
    """``save_model`` runs ``create_action`` / ``update_action``; FK fields become ``<name>_id``."""

    create_action: Callable[..., Any] | None = None
    update_action: Callable[..., Any] | None = None
    # Set on create only (parents, initial status); read-only afterwards.
    create_only: tuple[str, ...] = ()
    always_readonly: tuple[str, ...] = ("created_at", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(self.create_action and request.user.is_active and request.user.is_staff)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return (*self.always_readonly, *(self.create_only if obj is not None else ()))

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        actor = actor_of(request)
        if db_field.related_model in TENANT_FK_MODELS:
            kwargs["queryset"] = db_field.related_model._default_manager.visible_to(actor)
        elif db_field.related_model is User and not actor.is_unrestricted:
            kwargs["queryset"] = User.objects.filter(
                memberships__organization_id__in=actor.member_org_ids
            ).distinct()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def action_data(self, form: forms.ModelForm, change: bool) -> dict[str, Any]:
        names = form.changed_data if change else list(form.cleaned_data)
        data: dict[str, Any] = {}
        for name in names:
            if name not in form.cleaned_data:
                continue
            value = form.cleaned_data[name]
            if isinstance(value, models.Model) or (
                value is None and isinstance(self.model._meta.get_field(name), models.ForeignKey)
            ):
                data[f"{name}_id"] = value.pk if value is not None else None
            else:
                data[name] = value
        return data

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        actor = actor_of(request)
        data = self.action_data(form, change)
        try:
            if change:
                assert self.update_action is not None
                saved = self.update_action(actor, obj.pk, **data)
            else:
                assert self.create_action is not None
                saved = self.create_action(actor, **data)
        except FieldErrors as exc:
            raise PermissionDenied("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())) from exc
        except ActionError as exc:
            raise PermissionDenied(str(exc.message)) from exc
        obj.pk = saved.pk
        obj._state.adding = False

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """No many-to-many or inlines here: everything went through the action."""


class InstitutionAdminForm(forms.ModelForm):
    subjects = forms.MultipleChoiceField(
        label=_("医疗美容诊疗科目"), choices=Subject.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Institution
        fields = (
            "organization",
            "name",
            "credit_code",
            "licence_kind",
            "licence_no",
            "institution_type",
            "hospital_level",
            "has_anesthesiology",
            "subjects",
            "licence_valid_from",
            "licence_valid_until",
            "verification_cycle_years",
            "last_verified_on",
            "next_verification_due",
            "province",
            "city",
        )


@admin.register(Institution)
class InstitutionAdmin(ActionAdmin):
    form = InstitutionAdminForm
    list_display = (
        "name",
        "institution_type",
        "hospital_level",
        "province",
        "city",
        "licence_valid_until",
        "status",
    )
    list_filter = ("institution_type", "status", "province", "has_anesthesiology")
    search_fields = ("name", "licence_no", "credit_code")
    create_action = staticmethod(actions.create_institution)
    update_action = staticmethod(actions.update_institution)
    create_only = ("organization",)
    always_readonly = ("status", "created_at", "updated_at")


class PractitionerAdminForm(forms.ModelForm):
    """The ID number is write-only here: never pre-filled, blank on change keeps it."""

    id_number = forms.CharField(
        label=_("身份证号"),
        required=False,
        max_length=20,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("修改时留空表示不变"),
    )

    class Meta:
        model = Practitioner
        fields = (
            "main_institution",
            "name",
            "id_number",
            "profession",
            "licence_no",
            "practice_category",
            "practice_scope",
            "title",
            "practising_since",
            "user",
        )

    def clean_id_number(self) -> str:
        value = normalize_code(self.cleaned_data.get("id_number") or "")
        if not value:
            if self.instance.pk:
                return self.instance.id_number
            raise forms.ValidationError(_("此字段为必填项"))
        return value  # uniqueness (within the main institution) is the action's check

    @property
    def changed_data(self) -> list[str]:
        names = list(super().changed_data)
        if self.instance.pk and not (self.data.get(self.add_prefix("id_number")) or "").strip():
            names = [n for n in names if n != "id_number"]
        return names


@admin.register(Practitioner)
class PractitionerAdmin(ActionAdmin):
    form = PractitionerAdminForm
    list_display = ("name", "masked_id_number", "profession", "title", "main_institution", "status")
    list_filter = ("profession", "status", "title")
    search_fields = ("name", "licence_no")
    create_action = staticmethod(actions.create_practitioner)
    update_action = staticmethod(actions.update_practitioner)
    create_only = ("main_institution",)
    always_readonly = ("masked_id_number", "status", "status_reason", "created_at", "updated_at")

    @admin.display(description=_("身份证号"))
    def masked_id_number(self, obj: Practitioner) -> str:
        return obj.masked_id_number


@admin.register(PractitionerSite)
class PractitionerSiteAdmin(ActionAdmin):
    list_display = ("practitioner", "institution", "valid_from", "valid_until")
    create_action = staticmethod(actions.create_practitioner_site)
    update_action = staticmethod(actions.update_practitioner_site)
    create_only = ("practitioner", "institution")


@admin.register(Qualification)
class QualificationAdmin(ActionAdmin):
    list_display = ("practitioner", "kind", "subject", "number", "valid_until", "verification_status")
    list_filter = ("kind", "verification_status", "subject")
    search_fields = ("practitioner__name", "number")
    create_action = staticmethod(actions.create_qualification)
    update_action = staticmethod(actions.update_qualification)
    create_only = ("practitioner",)
    always_readonly = (
        "verification_status",
        "verified_by",
        "verified_at",
        "verification_note",
        "created_at",
        "updated_at",
    )


@admin.register(Supplier)
class SupplierAdmin(ActionAdmin):
    list_display = ("name", "credit_code", "business_licence_valid_until", "is_active")
    search_fields = ("name", "credit_code")
    create_action = staticmethod(actions.create_supplier)
    update_action = staticmethod(actions.update_supplier)
    create_only = ("organization",)


@admin.register(DistributionAuthorization)
class DistributionAuthorizationAdmin(ActionAdmin):
    list_display = ("supplier", "brand", "registrant", "territory", "valid_from", "valid_until")
    search_fields = ("brand", "registrant")
    create_action = staticmethod(actions.create_distribution_authorization)
    update_action = staticmethod(actions.update_distribution_authorization)
    create_only = ("supplier",)


@admin.register(Product)
class ProductAdmin(ActionAdmin):
    list_display = (
        "generic_name",
        "brand_name",
        "kind",
        "risk_class",
        "registration_no",
        "high_risk",
        "supplier",
    )
    list_filter = ("kind", "risk_class", "high_risk", "category")
    search_fields = ("generic_name", "brand_name", "registration_no", "registrant")
    create_action = staticmethod(actions.create_product)
    update_action = staticmethod(actions.update_product)
    create_only = ("supplier",)


@admin.register(Lot)
class LotAdmin(ActionAdmin):
    list_display = ("product", "lot_no", "expiry_date", "quantity", "unit", "status", "institution")
    list_filter = ("status",)
    search_fields = ("lot_no",)
    create_action = staticmethod(actions.create_lot)
    update_action = staticmethod(actions.update_lot)
    create_only = ("product", "institution", "status", "recall_level")


@admin.register(Device)
class DeviceAdmin(ActionAdmin):
    list_display = (
        "product",
        "serial_no",
        "udi_di",
        "institution",
        "status",
        "next_inspection_due",
        "next_calibration_due",
    )
    list_filter = ("status",)
    search_fields = ("serial_no", "udi_di")
    create_action = staticmethod(actions.create_device)
    update_action = staticmethod(actions.update_device)
    create_only = ("product", "institution", "status")
    always_readonly = ("udi_di", "next_inspection_due", "next_calibration_due", "created_at", "updated_at")
