from django.urls import path

from . import views

app_name = "registry"
urlpatterns = [
    path("", views.index, name="index"),
    path("institutions/", views.institution_list, name="institution_list"),
    path("institutions/new/", views.institution_form, name="institution_create"),
    path("institutions/<int:pk>/", views.institution_detail, name="institution_detail"),
    path("institutions/<int:pk>/edit/", views.institution_form, name="institution_edit"),
    path("practitioners/", views.practitioner_list, name="practitioner_list"),
    path("practitioners/new/", views.practitioner_form, name="practitioner_create"),
    path("practitioners/<int:pk>/", views.practitioner_detail, name="practitioner_detail"),
    path("practitioners/<int:pk>/edit/", views.practitioner_form, name="practitioner_edit"),
    path("practitioners/<int:pk>/status/", views.practitioner_status, name="practitioner_status"),
    path(
        "practitioners/<int:practitioner_pk>/qualifications/new/",
        views.qualification_form,
        name="qualification_create",
    ),
    path(
        "practitioners/<int:practitioner_pk>/qualifications/<int:pk>/edit/",
        views.qualification_form,
        name="qualification_edit",
    ),
    path("qualifications/<int:pk>/verify/", views.qualification_verify, name="qualification_verify"),
    path("site-requests/", views.site_requests, name="site_requests"),
    path(
        "site-requests/<int:pk>/<str:verdict>/",
        views.site_request_decide,
        name="site_request_decide",
    ),
    path("products/", views.product_list, name="product_list"),
    path("products/new/", views.product_form, name="product_create"),
    path("products/<int:pk>/", views.product_detail, name="product_detail"),
    path("products/<int:pk>/edit/", views.product_form, name="product_edit"),
    path(
        "distribution-authorizations/",
        views.distribution_authorization_list,
        name="distribution_authorization_list",
    ),
    path(
        "distribution-authorizations/new/",
        views.distribution_authorization_form,
        name="distribution_authorization_create",
    ),
    path(
        "distribution-authorizations/<int:pk>/edit/",
        views.distribution_authorization_form,
        name="distribution_authorization_edit",
    ),
    path(
        "distribution-authorizations/<int:pk>/evidence/",
        views.distribution_authorization_evidence,
        name="distribution_authorization_evidence",
    ),
    path("lots/", views.lot_list, name="lot_list"),
    path("lots/<int:pk>/", views.lot_detail, name="lot_detail"),
    path("devices/", views.device_list, name="device_list"),
    path("devices/<int:pk>/", views.device_detail, name="device_detail"),
]
