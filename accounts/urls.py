from django.urls import include, path
from django.views.generic import RedirectView

from accounts import views

urlpatterns = [
    path("", views.account, name="account"),
    path("two-factor/requirement/", views.two_factor_requirement, name="two-factor-requirement"),
    path("key-policy/", views.key_policy, name="key-policy"),
    path("sign-out-everywhere/", views.sign_out_everywhere, name="sign-out-everywhere"),
    path("organization/", views.organization_switch, name="organization-switch"),
    # The old password page: now allauth's.
    path(
        "password/",
        RedirectView.as_view(pattern_name="account_change_password", permanent=True),
    ),
    # Sign in and out, password change and reset, re-authentication, two-factor, sessions.
    path("", include("allauth.urls")),
]
