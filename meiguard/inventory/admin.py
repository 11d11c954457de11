"""Inspection only: every inventory write goes through ``actions`` (the pages and the API), so the admin
reads through ``visible_to`` and changes nothing."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from meiguard.core.admin import TenantAdminMixin

from .models import (
    InventoryAlert,
    Receipt,
    ReceiptLine,
    StockCount,
    StockMovement,
    StorageLocation,
    TraceCode,
)


class ReadOnlyAdmin(TenantAdminMixin, admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(StorageLocation)
class StorageLocationAdmin(ReadOnlyAdmin):
    list_display = ("name", "kind", "institution", "is_active")
    list_filter = ("kind", "is_active")


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyAdmin):
    list_display = ("delivery_note_no", "supplier", "institution", "received_at", "received_by")
    search_fields = ("delivery_note_no",)


@admin.register(ReceiptLine)
class ReceiptLineAdmin(ReadOnlyAdmin):
    list_display = ("receipt", "product", "lot_no", "quantity", "identified_by", "status", "keep_until")
    list_filter = ("status", "identified_by")
    search_fields = ("lot_no",)


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    list_display = ("at", "kind", "lot", "location", "quantity", "by")
    list_filter = ("kind",)


@admin.register(StockCount)
class StockCountAdmin(ReadOnlyAdmin):
    list_display = ("counted_at", "location", "counted_by")


@admin.register(TraceCode)
class TraceCodeAdmin(ReadOnlyAdmin):
    list_display = ("code", "lot", "location", "status", "used_at")
    list_filter = ("status",)
    search_fields = ("=code",)


@admin.register(InventoryAlert)
class InventoryAlertAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "code", "times", "institution")
    list_filter = ("kind",)
