"""The invitation email (Django's email backend; the console backend prints it)."""

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import Invitation


def invitation_link(*, base_url: str, token: str) -> str:
    """Return the absolute acceptance link for ``token`` on the site at ``base_url``."""
    return base_url.rstrip("/") + reverse("invitation-open", args=[token])


def invitation_email_send(*, invitation: Invitation, token: str, base_url: str) -> None:
    """Email the invitation's link to its address. Raises if the backend fails."""
    context = {
        "invitation": invitation,
        "organization": invitation.organization,
        "inviter": invitation.invited_by,
        "link": invitation_link(base_url=base_url, token=token),
    }
    subject = render_to_string("members/email/invitation_subject.txt", context).strip()
    body = render_to_string("members/email/invitation_message.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email])
