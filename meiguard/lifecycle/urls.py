from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "lifecycle"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.index, name="index"),
    path("export.xlsx", views.export, name="export"),
    path("chase/", views.chase, name="chase"),
]
