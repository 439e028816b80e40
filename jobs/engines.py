"""Generation engines: pluggable classes chosen by the ``GENERATION_ENGINE`` setting.

An engine turns a prompt and options into a JSON-able result, or raises ``EngineError``
(``retryable`` says whether another attempt may succeed).
"""

import hashlib
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

WATERMARK = "[Perceptis test result — not for production use]"


class EngineError(Exception):
    def __init__(self, code: str, message: str, *, retryable: bool):
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class GenerationRequest:
    """What an engine is asked: ``model`` and ``max_tokens`` come from the price table only."""

    prompt: str
    options: dict
    test: bool
    model: str | None = None
    max_tokens: int | None = None


class Engine:
    """Turn a request into a result whose ``usage`` reports the tokens it used.

    ``usage`` is ``{"input_tokens", "output_tokens"}`` or the chat-completions spelling
    (``prompt_tokens``, ``completion_tokens``); the job is charged from it.
    """

    name = "engine"

    def generate(self, request: GenerationRequest) -> dict:
        raise NotImplementedError


def _token_count(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def reported_usage(result) -> tuple[int | None, int | None]:
    """Return the (input, output) tokens an engine's result reports; None where it does not."""
    usage = result.get("usage") if isinstance(result, dict) else None
    if not isinstance(usage, dict):
        return None, None
    input_tokens = usage.get("input_tokens", usage.get("prompt_tokens"))
    output_tokens = usage.get("output_tokens", usage.get("completion_tokens"))
    return _token_count(input_tokens), _token_count(output_tokens)


class DevelopmentEngine(Engine):
    """Runs offline: a deterministic text derived from the prompt, for development and tests.

    ``options.simulate_error`` (``"retryable"`` or ``"fatal"``) makes it fail on purpose, and
    ``options.delay_ms`` (up to 5000) makes it slow, so failure paths can be tried by hand.
    It reports deterministic token counts, so pricing works offline: a quarter of the prompt's
    UTF-8 bytes (rounded up) plus 4 in, and one token per output word plus 1, at most
    ``max_tokens``, out.
    """

    name = "development"

    def generate(self, request: GenerationRequest) -> dict:
        delay = request.options.get("delay_ms")
        if isinstance(delay, int) and not isinstance(delay, bool) and 0 < delay <= 5000:
            time.sleep(delay / 1000)
        simulate = request.options.get("simulate_error")
        if simulate == "retryable":
            raise EngineError("engine_unavailable", "Simulated transient failure.", retryable=True)
        if simulate == "fatal":
            raise EngineError("generation_failed", "Simulated failure.", retryable=False)
        digest = hashlib.sha256(request.prompt.encode("utf-8")).hexdigest()[:12]
        words = request.prompt.split()
        text = f"Generated ({digest}): " + " ".join(reversed(words[:50]))
        input_tokens = -(-len(request.prompt.encode("utf-8")) // 4) + 4
        output_tokens = len(text.split()) + 1
        if request.max_tokens is not None:
            output_tokens = min(output_tokens, request.max_tokens)
        return {
            "text": text,
            "model": request.model or "perceptis-dev",
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        }


class OpenAICompatibleEngine(Engine):
    """Calls any OpenAI-compatible ``/chat/completions`` server.

    ``OPENAI_BASE_URL``, ``OPENAI_MODEL`` and ``OPENAI_API_KEY`` name the server; each call has
    ``OPENAI_TIMEOUT_SECONDS`` and is retried ``OPENAI_MAX_RETRIES`` times, with backoff, on a
    5xx, 429 or timeout. A 4xx other than 429 is final.
    """

    name = "openai"
    # ``model`` and ``max_tokens`` are never taken from the options: they come from the request,
    # which the price table checked.
    ALLOWED_OPTIONS = {
        "temperature",
        "top_p",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "seed",
    }

    def __init__(
        self,
        *,
        base_url=None,
        model=None,
        api_key=None,
        timeout=None,
        max_retries=None,
        backoff_seconds: float = 0.5,
    ):
        self.base_url = (base_url or settings.OPENAI_BASE_URL).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError("OPENAI_BASE_URL must be an http:// or https:// URL.")
        self.model = model or settings.OPENAI_MODEL
        self.api_key = settings.OPENAI_API_KEY if api_key is None else api_key
        self.timeout = settings.OPENAI_TIMEOUT_SECONDS if timeout is None else timeout
        self.max_retries = settings.OPENAI_MAX_RETRIES if max_retries is None else max_retries
        self.backoff_seconds = backoff_seconds

    def _payload(self, request: GenerationRequest) -> bytes:
        body = {
            "model": request.model or self.model,
            "messages": [{"role": "user", "content": request.prompt}],
        }
        body.update({k: v for k, v in request.options.items() if k in self.ALLOWED_OPTIONS})
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        return json.dumps(body).encode("utf-8")

    def _call_once(self, payload: bytes) -> dict:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        # The scheme is checked in __init__: only http(s) URLs reach urlopen.
        req = urllib.request.Request(  # noqa: S310
            f"{self.base_url}/chat/completions", data=payload, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:  # noqa: S310
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            retryable = exc.code >= 500 or exc.code == 429
            raise EngineError(
                "engine_unavailable" if retryable else "engine_rejected",
                f"The generation server answered {exc.code}.",
                retryable=retryable,
            ) from None
        except (TimeoutError, urllib.error.URLError, ConnectionError, OSError) as exc:
            raise EngineError(
                "engine_unavailable",
                f"The generation server did not answer: {exc}",
                retryable=True,
            ) from None
        except ValueError:
            raise EngineError(
                "engine_bad_response", "The generation server sent invalid JSON.", retryable=True
            ) from None

    def generate(self, request: GenerationRequest) -> dict:
        payload = self._payload(request)
        attempt = 0
        while True:
            try:
                data = self._call_once(payload)
                break
            except EngineError as exc:
                if not exc.retryable or attempt >= self.max_retries:
                    raise
                attempt += 1
                logger.info("Generation server call failed (%s); retry %d", exc.code, attempt)
                time.sleep(self.backoff_seconds * (2 ** (attempt - 1)))
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise EngineError(
                "engine_bad_response",
                "The generation server's answer has no choices.",
                retryable=False,
            ) from None
        if not isinstance(text, str):
            # A job's result always has text (the schema says so); an answer without any,
            # such as a refusal with null content, is not a result.
            raise EngineError(
                "engine_bad_response",
                "The generation server's answer has no text.",
                retryable=False,
            )
        model, reason, usage = data.get("model"), choice.get("finish_reason"), data.get("usage")
        return {
            "text": text,
            "model": model if isinstance(model, str) else self.model,
            "finish_reason": reason if isinstance(reason, str) else None,
            "usage": usage if isinstance(usage, dict) else {},
        }


def get_engine(*, test: bool = False) -> Engine:
    """Return the configured engine, or the offline one for a test key's job.

    Test keys are a sandbox, like a payment processor's test mode: whatever
    ``GENERATION_ENGINE`` says, their jobs never reach a paid engine.
    """
    if test:
        return DevelopmentEngine()
    return import_string(settings.GENERATION_ENGINE)()


def watermark(result: dict) -> dict:
    """Mark a test key's result so it cannot pass for a production one."""
    marked = dict(result)
    marked["text"] = f"{WATERMARK} {result.get('text', '')}"
    marked["watermark"] = True
    return marked
