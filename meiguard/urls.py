from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from .api import api
from .core import views as core_views
from .public import views as public_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("meiguard.core.urls")),
    path("registry/", include("meiguard.registry.urls")),
    path("rules/", include("meiguard.rules.urls")),
    path("authz/", include("meiguard.authz.urls")),
    path("notifications/", include("meiguard.notify.urls")),
    path("applications/", include("meiguard.workflow.urls")),
    path("lifecycle/", include("meiguard.lifecycle.urls")),
    path("reviews/", include("meiguard.reviews.urls")),
    path("bulk/", include("meiguard.bulk.urls")),
    path("workspace/", include("meiguard.workspace.urls")),
    path("clinical/", include("meiguard.clinical.urls")),
    path("equipment/", include("meiguard.equipment.urls")),
    path("aftercare/", include("meiguard.aftercare.urls")),
    path("complaints/", include("meiguard.complaints.urls")),
    path("compliance/", include("meiguard.compliance.urls")),
    path("inventory/", include("meiguard.inventory.urls")),
    # Pages without login (求美者): directory, lookups, verification; staff side of the same app.
    path("p/", include("meiguard.public.urls")),
    path("publishing/", include("meiguard.public.staff_urls")),
    path("robots.txt", public_views.robots, name="robots"),
    # The language switch also remembers a signed-in person's choice (their e-mails are written in it).
    path("i18n/setlang/", core_views.set_language, name="set_language"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]
# No media URL: uploaded files are encrypted and served only by permission-checked views.

# Styled error pages in the base layout (core/errorviews.py); the CSRF failure page is CSRF_FAILURE_VIEW.
handler403 = "meiguard.core.errorviews.permission_denied"
handler404 = "meiguard.core.errorviews.page_not_found"
handler500 = "meiguard.core.errorviews.server_error"
