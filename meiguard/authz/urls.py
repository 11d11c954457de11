from django.urls import path

from . import views

app_name = "authz"
urlpatterns = [
    path("", views.check, name="index"),
    path("check/", views.check, name="check"),
    path("check/fields/", views.check_fields, name="check_fields"),
    path(
        "practitioners/<int:pk>/capabilities/",
        views.practitioner_capabilities,
        name="practitioner_capabilities",
    ),
    path("matrix/", views.privilege_matrix, name="privilege_matrix"),
    path("matrix/cell/", views.privilege_cell, name="privilege_cell"),
    path("decisions/", views.decision_list, name="decision_list"),
    path("decisions/<int:pk>/", views.decision_detail, name="decision_detail"),
    path("authorizations/", views.authorization_list, name="authorization_list"),
    path("authorizations/new/", views.authorization_create, name="authorization_create"),
    path("authorizations/<int:pk>/", views.authorization_detail, name="authorization_detail"),
    path(
        "authorizations/<int:pk>/transition/",
        views.authorization_transition,
        name="authorization_transition",
    ),
    path("authorizations/<int:pk>/renewal/", views.authorization_renew, name="authorization_renew"),
]
