from django.urls import path

from . import views

app_name = "public"

urlpatterns = [
    path("", views.home, name="home"),
    path("institutions/", views.institutions, name="institutions"),
    path("institutions/<int:pk>/", views.institution, name="institution"),
    path("doctors/", views.doctors, name="doctors"),
    path("verify/", views.verify, name="verify"),
    path("c/<str:token>/", views.case, name="case"),
    path("complaints/new/", views.complaint_new, name="complaint_new"),
    path("complaints/done/<str:token>/", views.complaint_done, name="complaint_done"),
    path("complaints/status/", views.complaint_status, name="complaint_status"),
    path("lang/<str:code>/", views.set_language, name="lang"),
]
