"""Read-only inspection; rule packs change only through load_rule_pack / publish_rule_pack."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Rule, RulePack, RulePackVersion


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RulePack)
class RulePackAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "jurisdiction", "province", "extends")


@admin.register(RulePackVersion)
class RulePackVersionAdmin(ReadOnlyAdmin):
    list_display = ("pack", "version", "status", "effective_from", "published_at")
    list_filter = ("pack", "status")


@admin.register(Rule)
class RuleAdmin(ReadOnlyAdmin):
    list_display = ("rule_id", "version", "kind", "op", "level", "source")
    list_filter = ("version__pack", "kind", "level")
    search_fields = ("rule_id", "title", "source")
