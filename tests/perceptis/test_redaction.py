"""One redaction for every sink: each kind of secret, in a path, a query string or a message,
leaves Django's loggers (request, security), the JSON lines and Sentry events redacted."""

import json
import logging

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from apikeys.keys import keyformat
from perceptis.logformat import JsonLinesFormatter
from perceptis.redaction import redact, redact_event, redact_value

KEY = keyformat.generate("live")
RESET = "3-cbe9z7-4f1c2a0d9e8b7c6a5f4e3d2c1b0a9f8e"
INVITATION = "Zt3k9QwErTyUiOp-AsDfGhJkLzXcVbNm_1234567890"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
FORM_TOKEN = "eyJuIjoiYWJjZGVmZ2hpamtsbW5vcHFyIiwidSI6MX0:1tRxyz:Zm9vYmFyYmF6cXV4cXV1eA"

# (what a client or the code may put in a logged text, the secret that must not survive)
CASES = [
    (f"GET /api/v1/status/{KEY} HTTP/1.1", KEY[12:]),
    (f"GET /accounts/password/reset/key/{RESET}/ HTTP/1.1", RESET.split("-", 1)[1]),
    (f"Not Found: /accounts/password/reset/key/{RESET}/extra/", RESET.split("-", 1)[1]),
    (f"GET /accounts/invitation/{INVITATION}/ HTTP/1.1", INVITATION),
    (f"Gone: /accounts/invitation/{INVITATION}/", INVITATION),
    (f"GET /accounts/confirm-email/{INVITATION}/", INVITATION),
    (f"GET /x?token={INVITATION}&page=2", INVITATION),
    (f"GET /x?a=1&nonce={FORM_TOKEN}", FORM_TOKEN),
    (f"POST /x body nonce={FORM_TOKEN[:20]}", FORM_TOKEN[:20]),
    (f"form token {FORM_TOKEN} refused", FORM_TOKEN),
    (f"rotated the secret to {WHSEC}", WHSEC[6:]),
    (f"{{'signing_secret': '{INVITATION}'}}", INVITATION),
    (f'{{"password1": "{INVITATION}"}}', INVITATION),
    (f"Authorization: Bearer {INVITATION}", INVITATION),
    (f"Authorization: Basic {INVITATION}", INVITATION),
]


@pytest.mark.parametrize(("text", "secret"), CASES)
def test_each_secret_is_redacted(text, secret):
    assert secret not in redact(text)
    assert "[redacted]" in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "/accounts/password/reset/key/3-set-password/",  # allauth's token-free form page
        "/accounts/invitation/",
        "/admin/accounts/invitation/5/change/",
        "/api/v1/keys/key_AbCdEfGhIjKlMnOp/rotate",
        "job_abc moved from queued to running",
    ],
)
def test_what_holds_no_secret_is_left_readable(text):
    assert redact(text) == text


def test_error_bodies_keep_their_field_names():
    fields = {"nonce": ["This form has expired; open it again."], "password1": ["Too short."]}
    assert redact_value(fields) == fields


@pytest.mark.parametrize("logger", ["django.request", "django.security.csrf", "gunicorn.error"])
@pytest.mark.parametrize(("text", "secret"), CASES)
def test_the_configured_handler_redacts_every_logger(logger, text, secret):
    """Through the handler that LOGGING configures, as a real warning line would pass."""
    handler = next(h for h in logging.getLogger().handlers if h.filters)
    record = logging.getLogger(logger).makeRecord(
        logger, logging.WARNING, __file__, 1, "Forbidden (%s): %s", ("CSRF", text), None
    )
    assert handler.filter(record)
    plain = handler.format(record)
    as_json = JsonLinesFormatter().format(record)
    assert secret not in plain and secret not in as_json


def test_sentry_events_lose_secrets_in_urls_headers_forms_and_cookies():
    event = {
        "request": {
            "url": f"https://app.example/accounts/invitation/{INVITATION}/",
            "query_string": f"token={INVITATION}",
            "headers": {
                "Authorization": f"Bearer {KEY}",
                "Referer": f"https://app.example/accounts/password/reset/key/{RESET}/",
            },
            "data": {"nonce": FORM_TOKEN, "password1": "hunter2-long", "full_name": "Ana"},
            "cookies": [["sessionid", "s3ss10n"], ["theme", "dark"]],
        },
        "exception": {
            "values": [{"value": f"bad reset key /accounts/password/reset/key/{RESET}/"}]
        },
        "breadcrumbs": [{"message": f"delivered with {WHSEC}"}],
    }
    sent = json.dumps(redact_event(event))
    for secret in (INVITATION, KEY[12:], RESET.split("-", 1)[1], FORM_TOKEN, WHSEC[6:]):
        assert secret not in sent
    assert "hunter2-long" not in sent and "s3ss10n" not in sent
    assert '"Ana"' in sent and '"dark"' in sent


URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@given(
    token=st.text(alphabet=URLSAFE, min_size=20, max_size=64),
    before=st.text(max_size=40),
    prefix=st.sampled_from(["/accounts/invitation/", "/accounts/password/reset/key/3-"]),
    after=st.sampled_from(["/", "/ HTTP/1.1", "/?next=/x", "", '/" 410 0', "/extra/"]),
)
def test_no_link_token_survives_whatever_surrounds_it(token, before, prefix, after):
    assume(not before.endswith("/admin") and token not in before)
    assume(not token.endswith("set-password"))
    assert token not in redact(f"{before}{prefix}{token}{after}")
