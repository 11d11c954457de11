"""Reviews admin: inspection only. Reads go through ``visible_to``; every change goes through the pages or
API (actions), so nothing here can add, change or delete."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from meiguard.core.admin import TenantAdminMixin

from .models import Campaign, ChecklistItem, Finding


class ReadOnlyAdmin(TenantAdminMixin, admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdmin):
    list_display = ("institution", "period", "kind", "status", "created_by", "built_at", "closed_at")
    list_filter = ("kind", "status", "period")
    search_fields = ("institution__name", "period")


@admin.register(ChecklistItem)
class ChecklistItemAdmin(ReadOnlyAdmin):
    list_display = ("campaign", "category", "key", "status", "evidence_count", "is_current")
    list_filter = ("category", "status", "is_current")
    search_fields = ("key", "campaign__institution__name")


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdmin):
    list_display = ("pk", "campaign", "severity", "action", "status", "due_date", "created_at")
    list_filter = ("severity", "action", "status")
    search_fields = ("description", "campaign__institution__name")
