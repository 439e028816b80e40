"""One way to raise: a DomainError carries its status, code, message, retry_after and headers."""

import pytest
from rest_framework import exceptions
from rest_framework.request import Request

from apikeys.keys.authentication import ApiKeyAuthentication
from apikeys.keys.errors import WWW_AUTHENTICATE, InvalidApiKey, KeyCreationLimitReached
from perceptis.errors import DomainError, ServiceUnavailable
from perceptis.exception_handler import api_exception_handler


class Refused(DomainError):
    code = "refused_for_a_test"
    status_code = 429
    default_message = "Refused."
    retry_after = 3
    headers = {"X-Reason": "test"}


def test_a_domain_error_answers_its_status_code_message_and_headers():
    response = api_exception_handler(Refused(), {})
    assert response.status_code == 429
    assert response.data["error"]["code"] == "refused_for_a_test"
    assert response.data["error"]["message"] == "Refused."
    assert (response["Retry-After"], response["X-Reason"]) == ("3", "test")


def test_an_instance_overrides_retry_after_and_adds_headers_without_touching_its_class():
    error = Refused("Later.", retry_after=40, headers={"X-Other": "1"})
    response = api_exception_handler(error, {})
    assert response["Retry-After"] == "40"
    assert (response["X-Reason"], response["X-Other"]) == ("test", "1")
    # The class's headers are not changed for the next refusal.
    assert Refused.headers == {"X-Reason": "test"}
    assert "X-Other" not in api_exception_handler(Refused(), {})


def test_a_refusal_without_retry_after_sends_no_retry_after_header():
    response = api_exception_handler(InvalidApiKey(), {})
    assert response.status_code == 401
    assert "Retry-After" not in response
    assert response["WWW-Authenticate"] == WWW_AUTHENTICATE


def test_retry_after_given_when_raised_is_sent():
    response = api_exception_handler(KeyCreationLimitReached(retry_after=1234), {})
    assert (response.status_code, response["Retry-After"]) == (429, "1234")


def test_service_unavailable_says_when_to_retry():
    assert ServiceUnavailable().response_headers() == {"Retry-After": "5"}


def test_drf_throttle_gets_retry_after_from_its_wait():
    response = api_exception_handler(exceptions.Throttled(wait=12), {})
    assert response.status_code == 429
    assert response.data["error"]["code"] == "rate_limited"
    assert response["Retry-After"] == "12"


def test_drf_method_not_allowed_keeps_its_status_under_the_api_code():
    response = api_exception_handler(exceptions.MethodNotAllowed("DELETE"), {})
    assert response.status_code == 405
    assert response.data["error"]["code"] == "method_not_allowed"
    assert "Retry-After" not in response


def test_an_unknown_exception_is_left_to_become_a_500():
    assert api_exception_handler(ValueError("bug"), {}) is None


@pytest.mark.django_db
def test_a_refused_key_leaves_the_request_unauthenticated_and_is_checked_once(rf, monkeypatch):
    # DRF marks a request unauthenticated only for its own exceptions: a domain error must be
    # one, or a second read of request.user would check (and count) the bad key again.
    checks = []
    authentication = ApiKeyAuthentication()
    original = authentication.authenticate_credentials

    def counted(credential, request):
        checks.append(credential)
        return original(credential, request)

    monkeypatch.setattr(authentication, "authenticate_credentials", counted)
    request = Request(
        rf.get("/api/v1/jobs", HTTP_AUTHORIZATION="Bearer sk-live-per-not-a-key"),
        authenticators=[authentication],
    )
    with pytest.raises(InvalidApiKey):
        request.user  # noqa: B018
    assert request.user is None
    assert request.auth is None
    assert len(checks) == 1
