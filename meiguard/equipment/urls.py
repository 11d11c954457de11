from django.urls import path

from . import views

app_name = "equipment"

urlpatterns = [
    path("", views.device_list, name="devices"),
    path("devices/<int:pk>/", views.device_file, name="device"),
    path("devices/<int:pk>/records/", views.record_new, name="record_new"),
    path("records/<int:pk>/", views.record_detail, name="record"),
]
