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

# Recalls (DD-09)
from . import recall_views  # noqa: E402

urlpatterns += [
    path("recalls/", recall_views.recalls, name="recalls"),
    path("recalls/new/", recall_views.recall_new, name="recall_new"),
    path("recalls/<int:pk>/", recall_views.recall_detail, name="recall"),
    path("recalls/<int:pk>/lots/<int:row>/dispose/", recall_views.recall_dispose, name="recall_dispose"),
    path("recalls/<int:pk>/complete/", recall_views.recall_complete, name="recall_complete"),
    path("recalls/<int:pk>/report.xlsx", recall_views.recall_xlsx, name="recall_xlsx"),
    path("recalls/<int:pk>/report.pdf", recall_views.recall_pdf, name="recall_pdf"),
    path("lots/<int:pk>/recall/", recall_views.lot_recall, name="lot_recall"),
]

# Reports (issue 13 part 7): usage, stock on hand, reconciliation history, alerts — pages, charts, Excel.
from . import report_views  # noqa: E402

urlpatterns += [
    path("reports/usage/", report_views.usage_report, name="report_usage"),
    path("reports/stock/", report_views.stock_report, name="report_stock"),
    path("reports/reconciliations/", report_views.reconciliation_report, name="report_reconciliations"),
    path("reports/alerts/", report_views.alert_report, name="report_alerts"),
    path("alerts/<int:pk>/resolve/", report_views.alert_resolve, name="alert_resolve"),
]

# Stock movements by hand (count, transfer, scrap, return to supplier): pages for what was API-only.
from . import move_views  # noqa: E402

urlpatterns += [
    path("moves/", move_views.moves, name="moves"),
    path("moves/count/", move_views.count_form, name="count"),
    path("moves/<str:kind>/", move_views.move_form, name="move"),
]
