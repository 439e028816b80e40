"""Sign-in through django-allauth: no public sign-up, and every failed or refused sign-in is
audited and logged (the address typed and the client IP, never the password).

allauth counts failed sign-ins per account (the address typed, whether or not such an account
exists) and per client IP (``ACCOUNT_RATE_LIMITS["login_failed"]``); past either limit it
refuses the attempt before checking the password, with the same message for every address.
"""

import logging
import time

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.mfa.adapter import DefaultMFAAdapter
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError
from django.dispatch import receiver

from accounts.audit import Actor, audit_record
from accounts.decorators import recently_authenticated
from accounts.middleware import AUTH_STARTED_KEY
from accounts.models import User
from perceptis import crypto
from perceptis.clientip import client_ip

logger = logging.getLogger("accounts.signin")


def _typed_address(credentials: dict) -> str:
    return str(credentials.get("email") or credentials.get("username") or "").strip().lower()


def audit_signin(request, *, action: str, address: str) -> None:
    """Record a sign-in event about ``address``: who typed it from where, not the password."""
    user = User.objects.filter(email=address).first() if address else None
    ip = client_ip(request) if request is not None else None
    audit_record(
        actor=Actor(user=user, ip=ip, label_override=address or "unknown"),
        action=action,
        organization=None,
        target=user,
        target_label=address[:255],
    )


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        # People are created by operators (create_user) and, later, by invitations.
        return False

    def pre_authenticate(self, request, **credentials):
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            address = _typed_address(credentials)
            logger.warning(
                "sign-in refused (too many failures) for %s from %s", address, client_ip(request)
            )
            audit_signin(request, action="user.signin_refused", address=address)
            raise

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        # One password prompt: signing in counts as recent authentication, as it does for the
        # key pages (``recently_authenticated``), so setting up two-factor right after
        # signing in does not ask for the password again. Later it asks as before.
        request = context.request
        if request is not None and recently_authenticated(request):
            return False
        return super().is_reauthentication_required(app=app, **kwargs)

    def authentication_failed(self, request, **credentials):
        address = _typed_address(credentials)
        logger.warning("sign-in failed for %s from %s", address, client_ip(request))
        audit_signin(request, action="user.signin_failed", address=address)
        super().authentication_failed(request, **credentials)


@receiver(user_logged_in)
def _stamp_session(sender, request, user, **kwargs):
    """Start the session's absolute lifetime (see SessionLifetimeMiddleware)."""
    if request is not None and hasattr(request, "session"):
        request.session[AUTH_STARTED_KEY] = int(time.time())


class MfaAdapter(DefaultMFAAdapter):
    """Authenticator-app secrets are stored encrypted (perceptis.crypto)."""

    def encrypt(self, text: str) -> str:
        return crypto.encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        return crypto.decrypt(encrypted_text)
