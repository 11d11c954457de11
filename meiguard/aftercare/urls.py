from django.urls import path

from . import views

app_name = "aftercare"

urlpatterns = [
    path("", views.mine, name="mine"),
    path("follow-ups/", views.follow_up_list, name="follow_ups"),
    path("follow-ups/<int:pk>/", views.follow_up_detail, name="follow_up"),
    path("reactions/", views.reaction_list, name="reactions"),
    path("reactions/new/", views.reaction_new, name="reaction_new"),
    path("reactions/<int:pk>/", views.reaction_detail, name="reaction"),
    path("reactions/<int:pk>/steps/", views.reaction_step, name="reaction_step"),
]
