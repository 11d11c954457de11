from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "workflow"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.application_list, name="list"),
    path("inbox/", views.inbox, name="inbox"),
    path("new/", views.application_create, name="create"),
    path("committee/", views.committee, name="committee"),
    path("<int:pk>/", views.application_detail, name="detail"),
    path("<int:pk>/edit/", views.application_edit, name="edit"),
    path("<int:pk>/missing/", views.missing, name="missing"),
    path("<int:pk>/evidence/", views.evidence_add, name="evidence_add"),
    path("<int:pk>/evidence/<int:evidence_id>/remove/", views.evidence_remove, name="evidence_remove"),
    path("<int:pk>/evidence/<int:evidence_id>/file/", views.evidence_file, name="evidence_file"),
    path("<int:pk>/submit/", views.application_submit, name="submit"),
    path("<int:pk>/withdraw/", views.application_withdraw, name="withdraw"),
    path("<int:pk>/act/", views.act, name="act"),
]
