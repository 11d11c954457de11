from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/otp/", views.otp_verify, name="otp_verify"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/mfa/enrol/", views.mfa_enrol, name="mfa_enrol"),
    path("account/security/", views.security, name="security"),
    path("account/security/recovery-codes/", views.recovery_codes_new, name="recovery_codes_new"),
    path("account/tokens/", views.token_create, name="token_create"),
    path("account/tokens/<int:pk>/rotate/", views.token_rotate, name="token_rotate"),
    path("account/tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("account/unlock/", views.unlock, name="unlock"),
    path("account/lock/", views.lock, name="lock"),
    path("account/keepalive/", views.keepalive, name="keepalive"),
    path("account/device/", views.shared_device, name="shared_device"),
    path("healthz", views.healthz, name="healthz"),
]
