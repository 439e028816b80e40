"""Fixtures of the jobs tests: a fake chat-completions server and the engine pointed at it."""

import pytest

from tests.helpers import FakeServer


@pytest.fixture
def fake():
    """A chat-completions server on 127.0.0.1 that answers with scripted replies."""
    server = FakeServer()
    yield server
    server.close()


@pytest.fixture
def openai_settings(settings, fake):
    """Settings that send live keys' jobs to the OpenAI-compatible engine at ``fake``."""
    settings.GENERATION_ENGINE = "jobs.engines.OpenAICompatibleEngine"
    settings.OPENAI_BASE_URL = fake.url
    settings.OPENAI_MODEL = "fake-model"
    settings.OPENAI_TIMEOUT_SECONDS = 2
    settings.OPENAI_MAX_RETRIES = 0
    return settings
