from django.urls import path

from . import views

app_name = "rules"
urlpatterns = [
    path("", views.pack_list, name="pack_list"),
    path("<slug:code>/v<int:version>/", views.version_detail, name="version_detail"),
    path("<slug:code>/diff/", views.version_diff, name="version_diff"),
]
