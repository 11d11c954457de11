from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "bulk"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.index, name="index"),
    path("templates/<slug:kind>/", views.template, name="template"),
    path("export/", views.export, name="export"),
    path("import/", views.upload, name="upload"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/apply/", views.run_apply, name="apply"),
]
