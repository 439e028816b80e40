"""The one redaction of secrets, for every sink: log lines (Django's and gunicorn's, plain and
JSON), the request log, error bodies and Sentry events.

What it removes, wherever it appears in a text (a path, a query string, a message, a header):

- API keys, by the shape every Perceptis key starts with (``sk-live-per-`` / ``sk-test-per-``),
  so a key cut short, whose checksum no longer matches, goes too;
- the secrets that travel in URLs: password-reset keys (``/accounts/password/reset/key/<uidb36>-
  <key>/``; allauth's own token-free ``…-set-password/`` stays readable), invitation tokens
  (``/accounts/invitation/<token>/``) and email-confirmation keys;
- webhook and alert signing secrets (``whsec_…``) and signed one-time form tokens (Django's
  ``signing.dumps``: ``eyJ…:…:…``);
- the value of any query parameter, form field or ``name: value`` pair whose name says secret
  (``token``, ``key``, ``secret``, ``nonce``, ``password``, ``signature``…);
- ``Bearer``/``Basic`` credentials.

``redact_value`` applies the same to every string of a structure (error bodies);
``redact_event``, Sentry's ``before_send``, also blanks the values under secret-sounding keys
(headers, form data, cookies).
"""

import re

# Anything that starts like a key, even cut short.
KEY_LIKE_RE = re.compile(r"sk-(live|test)-per-[A-Za-z0-9_-]{4,}")
REDACTED = "[redacted]"

# A path segment that is a secret, after one of these prefixes (not the admin's changelists of
# the same models, ``/admin/accounts/invitation/5/change/``).
_PATH_SECRET_RE = re.compile(
    r"(?<!/admin)(/accounts/(?:password/reset/key|invitation|confirm-email)/)([^/\s?#\"'<>]+)"
)
_RESET_FORM = re.compile(r"[0-9a-z]+-set-password")
_WEBHOOK_SECRET_RE = re.compile(r"whsec_[A-Za-z0-9+/=_-]{4,}")
# Django's signed values (one-time form tokens): base64 JSON, a timestamp and a signature.
_SIGNED_RE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}:[A-Za-z0-9_-]+:[A-Za-z0-9_-]{10,}")
_SECRET_NAMES = (
    r"token|access_token|refresh_token|key|api_key|apikey|secret|signing_secret|client_secret|"
    r"nonce|password\d?|passwd|signature|csrfmiddlewaretoken|sessionid|csrftoken"
)
# ``name=value`` in a query string or form body, ``"name": "value"`` in a repr or JSON.
_NAMED_RE = re.compile(
    rf"(?i)(?<![A-Za-z0-9_-])((?:{_SECRET_NAMES})(?:['\"]?\s*[:=]\s*|=)['\"]?)"
    r"([^\s&;,'\"}\]]+)"
)
_CREDENTIAL_RE = re.compile(r"(?i)\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{6,}")
_SECRET_KEY_RE = re.compile(
    rf"(?i)^(?:{_SECRET_NAMES}|authorization|proxy-authorization|cookie|set-cookie|x-api-key|"
    r"webhook-signature|http_authorization|http_cookie|signing_secret|secret_key)$"
)

# C0 controls, DEL and C1 controls: a newline in a logged value would forge a log line.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# C0 controls and DEL only: header values arrive decoded as Latin-1, where the bytes of UTF-8
# text include the C1 range.
_C0_RE = re.compile(r"[\x00-\x1f\x7f]")


def _path_secret(match: re.Match) -> str:
    segment = match.group(2)
    if _RESET_FORM.fullmatch(segment):
        return match.group(0)
    return match.group(1) + REDACTED


def redact(text: str) -> str:
    """Return ``text`` with every secret described above replaced by ``[redacted]``."""
    text = _NAMED_RE.sub(lambda m: m.group(1) + REDACTED, text)
    text = _CREDENTIAL_RE.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = KEY_LIKE_RE.sub(lambda m: f"sk-{m.group(1)}-per-{REDACTED}", text)
    text = _PATH_SECRET_RE.sub(_path_secret, text)
    text = _WEBHOOK_SECRET_RE.sub("whsec_" + REDACTED, text)
    return _SIGNED_RE.sub(REDACTED, text)


def escape_controls(text: str) -> str:
    r"""Return ``text`` with control characters written as escapes (``\n``, ``\x00``)."""
    return _CONTROL_RE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def has_controls(text: str) -> bool:
    """Return whether ``text`` holds a C0 control character or DEL."""
    return _C0_RE.search(text) is not None


def scrub(text: str) -> str:
    """Return a client-supplied value fit for a log line: redacted, with controls escaped."""
    return escape_controls(redact(text))


def redact_value(value):
    """Return ``value`` (any JSON-like structure) with every string in it redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value


def _secret_name(name) -> bool:
    return isinstance(name, str) and _SECRET_KEY_RE.match(name) is not None


def _redact_event_value(value):
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {
            redact(k) if isinstance(k, str) else k: (
                REDACTED if _secret_name(k) and v not in (None, "") else _redact_event_value(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        # Sentry sends headers and form data as lists of [name, value] pairs too.
        if len(value) == 2 and _secret_name(value[0]):
            return [value[0], REDACTED]
        return [_redact_event_value(v) for v in value]
    return value


def redact_event(event, hint=None):
    """Sentry's ``before_send``: the event with every secret removed, everywhere in it, and
    the values of secret-sounding headers, cookies and form fields blanked."""
    return _redact_event_value(event)
