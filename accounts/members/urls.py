"""The Members page under Developer Settings, and the invitation link's page."""

from django.urls import path

from accounts.members import views

urlpatterns = [
    path("settings/developer/members/", views.member_list, name="developer-members"),
    path("settings/developer/members/invite/", views.member_invite, name="developer-member-invite"),
    path(
        "settings/developer/members/<int:pk>/role/",
        views.member_role,
        name="developer-member-role",
    ),
    path(
        "settings/developer/members/<int:pk>/remove/",
        views.member_remove,
        name="developer-member-remove",
    ),
    path(
        "settings/developer/members/<int:pk>/transfer/",
        views.member_transfer,
        name="developer-member-transfer",
    ),
    path(
        "settings/developer/invitations/<int:pk>/revoke/",
        views.invitation_revoke,
        name="developer-invitation-revoke",
    ),
    path(
        "settings/developer/invitations/<int:pk>/resend/",
        views.invitation_resend,
        name="developer-invitation-resend",
    ),
    path("accounts/invitation/", views.invitation_accept, name="invitation-accept"),
    path("accounts/invitation/<str:token>/", views.invitation_open, name="invitation-open"),
]
