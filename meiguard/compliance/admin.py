"""Compliance-report admin: inspection only. Reads go through ``visible_to``; reports are generated and items
closed through the pages or API (actions), so nothing here can add, change or delete."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from meiguard.core.admin import TenantAdminMixin

from .models import MonthlyReport, Rectification


class ReadOnlyAdmin(TenantAdminMixin, admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MonthlyReport)
class MonthlyReportAdmin(ReadOnlyAdmin):
    list_display = ("institution", "month", "version", "trigger", "generated_at")
    list_filter = ("trigger",)


@admin.register(Rectification)
class RectificationAdmin(ReadOnlyAdmin):
    list_display = ("institution", "month", "figure_code", "owner_role", "due_on", "status")
    list_filter = ("status", "figure_code")
