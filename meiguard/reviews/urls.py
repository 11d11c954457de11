from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "reviews"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.campaign_list, name="campaign_list"),
    path("new/", views.campaign_create, name="campaign_create"),
    path("<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("<int:pk>/rebuild/", views.campaign_rebuild, name="campaign_rebuild"),
    path("<int:pk>/close/", views.campaign_close, name="campaign_close"),
    path("<int:pk>/findings/new/", views.finding_create, name="finding_create"),
    path("<int:pk>/report.pdf", views.report_pdf, name="report_pdf"),
    path("<int:pk>/report.xlsx", views.report_xlsx, name="report_xlsx"),
    path("items/<int:pk>/ok/", views.item_ok, name="item_ok"),
    path("findings/<int:pk>/action/", views.finding_action, name="finding_action"),
    path("findings/<int:pk>/close/", views.finding_close, name="finding_close"),
]
