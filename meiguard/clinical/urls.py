from django.urls import path

from . import views

app_name = "clinical"

urlpatterns = [
    path("", views.home, name="home"),
    path("clients/new/", views.client_new, name="client_new"),
    path("clients/<int:pk>/", views.client_detail, name="client"),
    path("clients/<int:pk>/update/", views.client_update, name="client_update"),
    path("clients/<int:pk>/privacy/", views.privacy_grant, name="privacy_grant"),
    path(
        "clients/<int:pk>/privacy/<int:consent_id>/withdraw/",
        views.privacy_withdraw,
        name="privacy_withdraw",
    ),
    path("clients/<int:pk>/cases/new/", views.case_new, name="case_new"),
    path("clients/<int:pk>/usages.xlsx", views.client_usages_xlsx, name="client_usages_xlsx"),
    path("cases/<int:pk>/", views.case_detail, name="case"),
    path("cases/<int:pk>/open/", views.case_open, name="case_open"),
    path("cases/<int:pk>/step/<slug:step>/", views.case_step, name="case_step"),
    path("cases/<int:pk>/consents/<int:consent_id>.pdf", views.consent_pdf, name="consent_pdf"),
    path("cases/<int:pk>/summary.pdf", views.case_pdf, name="case_pdf"),
    path("lots/", views.lots, name="lots"),
    path("lots/<int:pk>/", views.lot_clients, name="lot_clients"),
]
