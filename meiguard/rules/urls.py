from django.urls import path

from . import views

app_name = "rules"
urlpatterns = [
    path("", views.pack_list, name="pack_list"),
    path("sources/", views.sources, name="sources"),
    path("policy/", views.policy_list, name="policy_list"),
    path("policy/<int:institution_id>/", views.policy, name="policy"),
    path("versions/<int:pk>/impact/", views.version_impact, name="version_impact"),
    path("versions/<int:pk>/impact.xlsx", views.version_impact_xlsx, name="version_impact_xlsx"),
    path("<slug:code>/v<int:version>/", views.version_detail, name="version_detail"),
    path("<slug:code>/diff/", views.version_diff, name="version_diff"),
]
