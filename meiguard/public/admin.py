"""Inspection only: price changes are written by ``actions.publish_price`` (the staff page)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from meiguard.core.admin import TenantAdminMixin

from .models import PriceChange


@admin.register(PriceChange)
class PriceChangeAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("procedure_code", "institution", "old_price", "new_price", "changed_at", "changed_by")
    list_filter = ("institution",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
