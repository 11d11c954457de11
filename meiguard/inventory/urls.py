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

# High-risk drugs: the cabinet (two-person issue, daily reconciliation) and the register (issue 13 part 4).
from . import highrisk_views  # noqa: E402

urlpatterns += [
    path("high-risk/", highrisk_views.cabinet, name="highrisk"),
    path("high-risk/issues/", highrisk_views.issue_request, name="highrisk_issue"),
    path("high-risk/issues/<int:pk>/decide/", highrisk_views.issue_decide, name="highrisk_decide"),
    path("high-risk/reconcile/", highrisk_views.reconcile, name="highrisk_reconcile"),
    path("high-risk/register/", highrisk_views.register_page, name="highrisk_register"),
]
