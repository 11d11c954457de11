from django.urls import path

from . import incident_views, views

app_name = "aftercare"

urlpatterns = [
    path("", views.mine, name="mine"),
    path("follow-ups/", views.follow_up_list, name="follow_ups"),
    path("follow-ups/<int:pk>/", views.follow_up_detail, name="follow_up"),
    path("reactions/", views.reaction_list, name="reactions"),
    path("reactions/new/", views.reaction_new, name="reaction_new"),
    path("reactions/<int:pk>/", views.reaction_detail, name="reaction"),
    path("reactions/<int:pk>/steps/", views.reaction_step, name="reaction_step"),
    path("reactions/<int:pk>/incident/", incident_views.reaction_escalate, name="reaction_escalate"),
    path("incidents/", incident_views.incident_list, name="incidents"),
    path("incidents/new/", incident_views.incident_new, name="incident_new"),
    path("incidents/<int:pk>/", incident_views.incident_detail, name="incident"),
    path("incidents/<int:pk>/grade/", incident_views.incident_grade, name="incident_grade"),
    path("incidents/<int:pk>/submit/", incident_views.incident_submit, name="incident_submit"),
    path("incidents/<int:pk>/close/", incident_views.incident_close, name="incident_close"),
    path("incidents/<int:pk>/seal/", incident_views.incident_seal, name="incident_seal"),
    path("incidents/<int:pk>/report.pdf", incident_views.incident_pdf, name="incident_pdf"),
    path("incidents/<int:pk>/report.xlsx", incident_views.incident_xlsx, name="incident_xlsx"),
    path("seals/<int:pk>/unseal/", incident_views.incident_unseal, name="incident_unseal"),
]
