"""What a submitted job may ask the engine for, and the most it can cost.

``options.model`` must be a model of the price table the key's plan may use and, when the key
has a list of allowed models, one of them (default: the plan's default model), and
``options.max_tokens`` a whole number from 1 to the model's maximum (default: the maximum).
Nothing else decides what reaches an engine.
"""

from dataclasses import dataclass
from decimal import Decimal

from apikeys.keys.models import ApiKey
from billing.errors import ModelNotAvailable
from billing.prices import price_charge, price_reservation, price_resolve
from jobs.engines import reported_usage
from perceptis.errors import InvalidRequest


@dataclass(frozen=True)
class JobPrice:
    model: str
    max_tokens: int
    input_rate: Decimal
    output_rate: Decimal
    reserve: int  # credits to reserve: 0 for a test key's job


def _max_tokens_option(options: dict) -> int | None:
    value = options.get("max_tokens")
    if value is None:
        return None
    # bool is an int in Python, and 100.0 or "100" are not whole numbers of tokens.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequest(
            "options.max_tokens must be a whole number of at least 1.",
            fields={"options.max_tokens": ["A whole number of at least 1."]},
        )
    return value


def _model_option(options: dict) -> str | None:
    value = options.get("model")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(
            "options.model must be a model id from GET /api/v1/models.",
            fields={"options.model": ["A model id from GET /api/v1/models."]},
        )
    return value


def job_price(*, key: ApiKey, prompt: str, options: dict) -> JobPrice:
    """Return the model, output cap and reservation of a job ``key`` submits.

    Raise ``InvalidRequest`` (400, with the field) for a malformed ``model`` or ``max_tokens``
    or one above the model's maximum, and ``ModelNotAvailable`` (400) for a model the plan may
    not use, that does not exist, or that is outside the key's allowed models (also when the
    plan's default, asked for by naming none, is). Test keys are priced the same way and
    reserve nothing.
    """
    max_tokens = _max_tokens_option(options)
    model = _model_option(options)
    price = price_resolve(plan=key.organization.plan, model=model)
    if not key.allows_model(price.model):
        named = "The model" if model is not None else "The plan's default model"
        raise ModelNotAvailable(
            f"{named} {price.model!r} is not one this API key may use: "
            f"{', '.join(key.allowed_models)}. Name one of them in options.model."
        )
    if max_tokens is None:
        max_tokens = price.max_output_tokens
    elif max_tokens > price.max_output_tokens:
        raise InvalidRequest(
            f"options.max_tokens is at most {price.max_output_tokens} for {price.model}.",
            fields={"options.max_tokens": [f"At most {price.max_output_tokens}."]},
        )
    is_test = key.type == ApiKey.Type.TEST
    reserve = 0 if is_test else price_reservation(price=price, prompt=prompt, max_tokens=max_tokens)
    return JobPrice(
        model=price.model,
        max_tokens=max_tokens,
        input_rate=price.input_credits_per_1k_tokens,
        output_rate=price.output_credits_per_1k_tokens,
        reserve=reserve,
    )


@dataclass(frozen=True)
class JobCharge:
    input_tokens: int | None
    output_tokens: int | None
    charged: int


def job_charge(job, result) -> JobCharge:
    """Return what ``job`` is charged for the engine's ``result``: the reported usage at the
    rates of submission time, never more than the reservation; a result without usable token
    counts is charged the whole reservation (money fails closed).
    """
    input_tokens, output_tokens = reported_usage(result)
    charged = price_charge(
        input_rate=job.input_credits_per_1k_tokens or Decimal(0),
        output_rate=job.output_credits_per_1k_tokens or Decimal(0),
        reserved=job.credits_reserved,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
    )
    if job.input_credits_per_1k_tokens is None:
        charged = job.credits_reserved  # A job priced before the price table: its flat cost.
    return JobCharge(input_tokens, output_tokens, charged)
