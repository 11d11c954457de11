from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "workspace"
urlpatterns: list[URLPattern | URLResolver] = [
    path("panels/<slug:key>/", views.panel, name="panel"),
    path("search/", views.search, name="search"),
]
