from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .access import Actor, build_actor
from .models import ApiToken, Membership, Organization, User

# Branded admin (issue 16): the section names are each app's AppConfig.verbose_name, translated like the pages.
admin.site.site_header = _("meiguard 管理后台")
admin.site.site_title = _("meiguard 管理后台")
admin.site.index_title = _("数据查看与维护")


def actor_of(request: HttpRequest) -> Actor:
    actor = getattr(request, "actor", None)
    return actor if actor is not None else build_actor(request.user)


class TenantAdminMixin:
    """Admin reads through ``visible_to`` and may change only what ``writable_by`` allows."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)  # type: ignore[misc]
        return qs.visible_to(actor_of(request))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not (request.user.is_active and request.user.is_staff):
            return False
        if obj is None:
            return True
        model = type(obj)
        return model._default_manager.writable_by(actor_of(request)).filter(pk=obj.pk).exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "display_name", "email", "is_active", "is_staff")
    fieldsets = (*BaseUserAdmin.fieldsets, ("meiguard", {"fields": ("display_name",)}))  # type: ignore[misc]


@admin.register(Organization)
class OrganizationAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("name", "kind", "province", "is_active")
    list_filter = ("kind", "province", "is_active")
    search_fields = ("name",)
    filter_horizontal = ("oversees",)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "role", "is_active")
    list_filter = ("role", "is_active")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "token_hash", "created_at", "last_used_at")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
