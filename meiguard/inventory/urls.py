from django.urls import path

from . import views

app_name = "inventory"

urlpatterns = [
    path("", views.stock, name="stock"),
    path("receipts/", views.receipts, name="receipts"),
    path("receipts/new/", views.receipt_new, name="receipt_new"),
    path("receipts/<int:pk>/", views.receipt_detail, name="receipt"),
    path("receipts/<int:pk>/lines/", views.line_add, name="line_add"),
    path("lines/<int:pk>/decide/", views.line_decide, name="line_decide"),
    path("lots/<int:pk>/", views.lot_movements, name="lot"),
    path("alerts/", views.alerts, name="alerts"),
]
