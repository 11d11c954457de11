from django.urls import path

from . import views

app_name = "compliance"

urlpatterns = [
    path("", views.index, name="index"),
    path("generate/", views.generate, name="generate"),
    path("rollup/", views.rollup, name="rollup"),
    path("reports/<int:pk>/", views.report, name="report"),
    path("reports/<int:pk>/report.pdf", views.report_pdf, name="report_pdf"),
    path("reports/<int:pk>/report.xlsx", views.report_xlsx, name="report_xlsx"),
    path("rectifications/<int:pk>/close/", views.close_rectification, name="close_rectification"),
]
