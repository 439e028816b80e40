"""The OpenAI-compatible engine against a small fake chat-completions server on 127.0.0.1."""

import pytest

from billing.selectors import credits_balance
from jobs.engines import EngineError, GenerationRequest, OpenAICompatibleEngine
from jobs.models import Job
from jobs.tasks import run_job
from tests.helpers import completion


def engine_for(fake, **overrides):
    options = {
        "base_url": fake.url,
        "model": "fake-model",
        "api_key": "sk-upstream-secret",
        "timeout": 2,
        "max_retries": 2,
        "backoff_seconds": 0,
    }
    return OpenAICompatibleEngine(**{**options, **overrides})


REQUEST = GenerationRequest(prompt="Say hello", options={"temperature": 0.2}, test=False)


def test_success_returns_the_text_and_model(fake):
    result = engine_for(fake).generate(REQUEST)

    assert result["text"] == "Hello from the fake server"
    assert result["model"] == "fake-model"
    assert result["finish_reason"] == "stop"
    assert result["usage"]["total_tokens"] == 8


def test_request_carries_model_messages_and_authorization(fake):
    engine_for(fake).generate(REQUEST)

    [request] = fake.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-upstream-secret"
    assert request["body"]["model"] == "fake-model"
    assert request["body"]["messages"] == [{"role": "user", "content": "Say hello"}]
    assert request["body"]["temperature"] == 0.2


def test_options_outside_the_allowed_set_are_not_forwarded(fake):
    request = GenerationRequest(prompt="p", options={"delay_ms": 5, "n": 9, "seed": 1}, test=False)
    engine_for(fake).generate(request)

    body = fake.requests[0]["body"]
    assert body["seed"] == 1
    assert "delay_ms" not in body and "n" not in body


def test_two_server_errors_then_success_is_retried(fake):
    fake.replies = [(500, {"error": "boom"}, 0), (502, b"bad gateway", 0), (200, completion(), 0)]

    result = engine_for(fake, max_retries=2).generate(REQUEST)

    assert result["text"] == "Hello from the fake server"
    assert len(fake.requests) == 3


def test_server_errors_beyond_the_retries_are_a_retryable_failure(fake):
    fake.replies = [(503, {"error": "down"}, 0)]

    with pytest.raises(EngineError) as caught:
        engine_for(fake, max_retries=1).generate(REQUEST)

    assert caught.value.code == "engine_unavailable"
    assert caught.value.retryable is True
    assert len(fake.requests) == 2


def test_timeout_is_retried_then_fails(fake):
    fake.replies = [(200, completion(), 1.0)]

    with pytest.raises(EngineError) as caught:
        engine_for(fake, timeout=0.2, max_retries=1).generate(REQUEST)

    assert caught.value.code == "engine_unavailable"
    assert caught.value.retryable is True
    assert len(fake.requests) == 2


def test_timeout_then_success_is_retried(fake):
    fake.replies = [(200, completion(), 1.0), (200, completion("second try"), 0)]

    result = engine_for(fake, timeout=0.2, max_retries=1).generate(REQUEST)

    assert result["text"] == "second try"


def test_client_error_is_not_retried(fake):
    fake.replies = [(400, {"error": {"message": "bad request"}}, 0)]

    with pytest.raises(EngineError) as caught:
        engine_for(fake).generate(REQUEST)

    assert caught.value.code == "engine_rejected"
    assert caught.value.retryable is False
    assert len(fake.requests) == 1


def test_garbage_json_is_a_bad_response(fake):
    fake.replies = [(200, b"<html>not json", 0)]

    with pytest.raises(EngineError) as caught:
        engine_for(fake, max_retries=0).generate(REQUEST)

    assert caught.value.code == "engine_bad_response"


def test_answer_without_choices_is_a_final_bad_response(fake):
    fake.replies = [(200, {"id": "x", "choices": []}, 0)]

    with pytest.raises(EngineError) as caught:
        engine_for(fake).generate(REQUEST)

    assert caught.value.code == "engine_bad_response"
    assert caught.value.retryable is False
    assert len(fake.requests) == 1


def test_unreachable_server_is_retryable():
    engine = OpenAICompatibleEngine(
        base_url="http://127.0.0.1:9/v1", timeout=0.5, max_retries=0, backoff_seconds=0
    )
    with pytest.raises(EngineError) as caught:
        engine.generate(REQUEST)
    assert caught.value.retryable is True


def test_only_http_urls_are_accepted():
    with pytest.raises(ValueError):
        OpenAICompatibleEngine(base_url="file:///etc/passwd")


@pytest.fixture
def openai_settings(settings, fake):
    settings.GENERATION_ENGINE = "jobs.engines.OpenAICompatibleEngine"
    settings.OPENAI_BASE_URL = fake.url
    settings.OPENAI_MODEL = "fake-model"
    settings.OPENAI_API_KEY = "sk-upstream-secret"
    settings.OPENAI_TIMEOUT_SECONDS = 2
    settings.OPENAI_MAX_RETRIES = 0
    return settings


def test_job_runs_end_to_end_on_the_openai_engine(openai_settings, fake, org, live_key, client_for):
    _key, plaintext = live_key
    client = client_for(plaintext)
    before = credits_balance(organization=org)

    submitted = client.post("/api/v1/generate", {"prompt": "Say hello"}, format="json")
    assert submitted.status_code == 202
    assert run_job(submitted.json()["job_id"]) == Job.Status.SUCCEEDED
    done = client.get(submitted["Location"]).json()

    assert done["status"] == "succeeded"
    assert done["result"]["text"] == "Hello from the fake server"
    assert done["credits_charged"] == 1
    assert credits_balance(organization=org) == before - 1
    assert fake.requests[0]["body"]["messages"][0]["content"] == "Say hello"


def test_job_rejected_by_the_server_fails_and_keeps_the_upstream_key_secret(
    openai_settings, fake, org, live_key, client_for
):
    fake.replies = [(401, {"error": "bad key sk-upstream-secret"}, 0)]
    _key, plaintext = live_key
    client = client_for(plaintext)
    before = credits_balance(organization=org)

    submitted = client.post("/api/v1/generate", {"prompt": "Say hello"}, format="json")
    assert run_job(submitted.json()["job_id"]) == Job.Status.FAILED
    response = client.get(submitted["Location"])

    done = response.json()
    assert done["status"] == "failed"
    assert done["error"]["code"] == "engine_rejected"
    assert "sk-upstream-secret" not in response.content.decode()
    assert credits_balance(organization=org) == before
