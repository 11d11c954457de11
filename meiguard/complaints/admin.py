"""Complaints admin: inspection only (reads through ``visible_to``); every change goes through the pages or the
API (actions). The complainant's name and contact are not listed."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from meiguard.core.admin import TenantAdminMixin

from .models import Complaint, ComplaintEvent


class ReadOnlyAdmin(TenantAdminMixin, admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Complaint)
class ComplaintAdmin(ReadOnlyAdmin):
    list_display = ("tracking_no", "institution", "channel", "category", "status", "owner", "received_at")
    list_filter = ("status", "channel", "category")
    search_fields = ("tracking_no", "institution__name")
    exclude = ("complainant_name", "complainant_contact", "contact_tail_index")


@admin.register(ComplaintEvent)
class ComplaintEventAdmin(ReadOnlyAdmin):
    list_display = ("complaint", "kind", "at", "by_label")
    list_filter = ("kind",)
