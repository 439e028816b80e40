"""The email that tells an organization's owners and admins a key was exposed and revoked."""

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from accounts.models import Organization
from accounts.selectors import manager_emails
from apikeys.keys.emails import site_link


def exposure_email_send(*, organization: Organization, exposed: list) -> int:
    """Email the organization's owners and admins about keys just revoked as exposed.

    ``exposed`` holds the revoked keys with where they were found (``services.Exposed``).
    Return the number of recipients. Raise if the email backend fails.
    """
    recipients = manager_emails(organization=organization)
    if not recipients:
        return 0
    context = {
        "organization": organization,
        "exposed": [
            {
                "key": item.key,
                "where": item.url or item.key.get_exposure_source_display(),
                "source": item.key.get_exposure_source_display(),
                "key_link": site_link("developer-key", item.key.key_id),
            }
            for item in exposed
        ],
        "create_link": site_link("developer-key-create"),
    }
    subject = render_to_string("exposure/email/exposed_subject.txt", context).strip()
    body = render_to_string("exposure/email/exposed_message.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    return len(recipients)
