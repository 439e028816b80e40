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
    prompt: str
    options: dict
    test: bool


class Engine:
    name = "engine"

    def price(self, request: GenerationRequest) -> int:
        """Return the job's cost in credits, known before it runs (reserve equals capture)."""
        return settings.JOBS_COST_CREDITS

    def generate(self, request: GenerationRequest) -> dict:
        raise NotImplementedError


class DevelopmentEngine(Engine):
    """Runs offline: a deterministic text derived from the prompt, for development and tests.

    ``options.simulate_error`` (``"retryable"`` or ``"fatal"``) makes it fail on purpose, and
    ``options.delay_ms`` (up to 5000) makes it slow, so failure paths can be tried by hand.
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
        return {"text": text, "model": "perceptis-dev", "usage": {"prompt_words": len(words)}}


class OpenAICompatibleEngine(Engine):
    """Calls any OpenAI-compatible ``/chat/completions`` server.

    ``OPENAI_BASE_URL``, ``OPENAI_MODEL`` and ``OPENAI_API_KEY`` name the server; each call has
    ``OPENAI_TIMEOUT_SECONDS`` and is retried ``OPENAI_MAX_RETRIES`` times, with backoff, on a
    5xx, 429 or timeout. A 4xx other than 429 is final.
    """

    name = "openai"
    ALLOWED_OPTIONS = {
        "temperature",
        "max_tokens",
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
            "model": request.options.get("model")
            if isinstance(request.options.get("model"), str)
            else self.model,
            "messages": [{"role": "user", "content": request.prompt}],
        }
        body.update({k: v for k, v in request.options.items() if k in self.ALLOWED_OPTIONS})
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
        return {
            "text": text,
            "model": data.get("model", self.model),
            "finish_reason": choice.get("finish_reason"),
            "usage": data.get("usage") or {},
        }


def get_engine() -> Engine:
    return import_string(settings.GENERATION_ENGINE)()


def watermark(result: dict) -> dict:
    """Mark a test key's result so it cannot pass for a production one."""
    marked = dict(result)
    marked["text"] = f"{WATERMARK} {result.get('text', '')}"
    marked["watermark"] = True
    return marked
