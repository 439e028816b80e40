"""One-time forms in views: issue a form's token, and claim it when the form comes back.

Used by every form that shows a secret once (create or rotate a key, an alert rule's signing
secret); the tokens themselves are ``apikeys.keys.services.form_tokens``.
"""

from apikeys.keys.forms import NONCE_EXPIRED
from apikeys.keys.services.form_tokens import Claim, ClaimResult, form_token_claim, form_token_issue


def form_token_for(request, purpose: str, target: str = "") -> str:
    """Return a new one-time token for a form the signed-in person opens now."""
    return form_token_issue(
        user=request.user, organization=request.organization, purpose=purpose, target=target
    )


def _fresh_token(request, form, purpose: str, target: str) -> None:
    form.data = form.data.copy()
    form.data["nonce"] = form_token_for(request, purpose, target)


def form_claim(request, form, purpose: str, target: str = "") -> ClaimResult | None:
    """Claim the token of a valid form; return None for an invalid form.

    An unusable token (missing, expired, forged, another user's, organization's or target's) is
    a form error, and the form is sent back with a fresh token so that it can be sent again.
    """
    if not form.is_valid():
        if "nonce" in form.errors:
            _fresh_token(request, form, purpose, target)
        return None
    claim = form_token_claim(
        token=form.cleaned_data["nonce"],
        user=request.user,
        organization=request.organization,
        purpose=purpose,
        target=target,
    )
    if claim.outcome is Claim.INVALID:
        form.add_error("nonce", NONCE_EXPIRED)
        _fresh_token(request, form, purpose, target)
    return claim
