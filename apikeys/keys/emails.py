"""Emails about keys to an organization's owners and admins (Django's email backend)."""

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.selectors import manager_emails
from apikeys.keys.models import ApiKey


def site_link(name: str, *args) -> str:
    """Return the absolute URL of the page ``name`` on this site (``SITE_URL``)."""
    return settings.SITE_URL.rstrip("/") + reverse(name, args=args)


def expiry_warning_send(*, key: ApiKey, days_before: int) -> int:
    """Email the owners and admins of ``key``'s organization that it expires soon.

    Return the number of recipients (0: nobody to tell). Raise if the email backend fails.
    """
    recipients = manager_emails(organization=key.organization)
    if not recipients:
        return 0
    context = {
        "key": key,
        "organization": key.organization,
        "days_before": days_before,
        "key_link": site_link("developer-key", key.key_id),
        "create_link": site_link("developer-key-create"),
    }
    subject = render_to_string("apikeys/email/key_expiring_subject.txt", context).strip()
    body = render_to_string("apikeys/email/key_expiring_message.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    return len(recipients)
