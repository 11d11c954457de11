"""Workflow admin: inspection only. Querysets go through ``visible_to``; every change goes through the actions
(pages and API), so it is validated and audited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from meiguard.core.admin import TenantAdminMixin

from .models import Application, ApprovalStep, ExpertCommittee


class ReadOnlyAdmin(TenantAdminMixin, admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ExpertCommittee)
class ExpertCommitteeAdmin(ReadOnlyAdmin):
    list_display = ("name", "institution", "quorum", "is_active")
    list_filter = ("is_active",)
    filter_horizontal = ("members",)


class StepInline(admin.TabularInline):
    model = ApprovalStep
    extra = 0
    can_delete = False
    fields = (
        "round",
        "order",
        "stage",
        "status",
        "required_approvals",
        "pool_size",
        "opened_at",
        "decided_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = (
        "pk",
        "institution",
        "practitioner",
        "kind",
        "risk_level",
        "status",
        "round",
        "created_at",
    )
    list_filter = ("status", "risk_level", "kind")
    search_fields = (
        "procedure_code",
        "product_brand",
        "device_model",
        "technology_name",
        "practitioner__name",
    )
    inlines = (StepInline,)
