from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from meiguard.core.admin import TenantAdminMixin

from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(TenantAdminMixin, admin.ModelAdmin):
    """Read-only: the app offers no way to change or delete an entry."""

    list_display = ("created_at", "chain", "seq", "actor_label", "action", "object_type", "object_repr")
    list_filter = ("action", "object_type")
    search_fields = ("object_repr", "actor_label", "request_id", "object_id")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
