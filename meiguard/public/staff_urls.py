from django.urls import path

from . import views

app_name = "publishing"

urlpatterns = [
    path("prices/", views.prices, name="prices"),
    path("prices/<int:institution_id>/", views.price_set, name="price_set"),
    path("cases/<int:pk>/qr/", views.case_qr, name="case_qr"),
]
