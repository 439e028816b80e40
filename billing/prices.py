"""The price table: which models a plan may use and what a job on one costs.

A job reserves the most it can cost, ``ceil(input_tokens × input price / 1000 + max_tokens ×
output price / 1000)`` and at least 1 credit, where the input tokens are an upper bound (one
token per UTF-8 byte of the prompt plus the chat framing: no tokenizer makes more), and is
charged the same formula on the tokens the engine reports, never more than it reserved.
"""

import math
import time
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from accounts.audit import Actor, audit_record
from accounts.models import Plan
from billing.errors import ModelNotAvailable
from billing.models import ModelAccess, ModelPrice

# Tokens a chat request adds around the prompt (role markers, message framing).
CHAT_FRAMING_TOKENS = 16
MINIMUM_CHARGE = 1

PRICES = [
    # model, input credits / 1k tokens, output credits / 1k tokens, max output tokens,
    # plans that may use it, plans whose default it is
    ("gpt-4o-mini", "0.1", "0.2", 4096, ["business", "enterprise"], ["business", "enterprise"]),
    ("gpt-4o", "1", "4", 16384, ["business", "enterprise"], []),
    ("o1", "6", "24", 32768, ["enterprise"], []),
]


def prices_ensure(price_model=ModelPrice, access_model=ModelAccess, plan_model=Plan) -> None:
    """Create the seeded models that are missing, with their plans (migration-safe).

    Existing rows are left as they are: superusers may have changed them in admin.
    """
    plans = {plan.code: plan for plan in plan_model.objects.all()}
    for model, inp, out, max_out, allowed, default_for in PRICES:
        price, created = price_model.objects.get_or_create(
            model=model,
            defaults={
                "input_credits_per_1k_tokens": Decimal(inp),
                "output_credits_per_1k_tokens": Decimal(out),
                "max_output_tokens": max_out,
            },
        )
        if not created:
            continue
        for code in allowed:
            if code in plans:
                is_default = (
                    code in default_for
                    and not access_model.objects.filter(plan=plans[code], is_default=True).exists()
                )
                access_model.objects.get_or_create(
                    plan=plans[code], price=price, defaults={"is_default": is_default}
                )


def prices_for_plan(*, plan: Plan) -> list[ModelPrice]:
    """Return the models ``plan`` may use, by name."""
    return list(ModelPrice.objects.filter(access__plan=plan).order_by("model"))


# The price table as submissions read it, in the shared cache: {plan id: {"default": model or
# None, "models": {model: (pk, input rate, output rate, max output tokens)}}}. Saving or deleting
# a price or a plan's access to one drops it (on commit); it also expires, bounding what a
# change made around the signals (a queryset update, a raw SQL fix) leaves stale.
PRICE_TABLE_CACHE_KEY = "billing:price-table:v1"

# Each process also keeps the table it read for ``BILLING_PRICE_TABLE_LOCAL_SECONDS`` (a
# submission then reads no cache): (monotonic time it is kept until, table), or None.
_local_copy: tuple[float, dict] | None = None


def _price_table() -> dict:
    global _local_copy
    kept = _local_copy
    if kept is not None and time.monotonic() < kept[0]:
        return kept[1]
    table = cache.get(PRICE_TABLE_CACHE_KEY)
    if table is None:
        table = {}
        for access in ModelAccess.objects.select_related("price"):
            plan = table.setdefault(access.plan_id, {"default": None, "models": {}})
            price = access.price
            plan["models"][price.model] = (
                price.pk,
                price.input_credits_per_1k_tokens,
                price.output_credits_per_1k_tokens,
                price.max_output_tokens,
            )
            if access.is_default:
                plan["default"] = price.model
        cache.set(PRICE_TABLE_CACHE_KEY, table, settings.BILLING_PRICE_TABLE_SECONDS)
    if settings.BILLING_PRICE_TABLE_LOCAL_SECONDS > 0:
        _local_copy = (time.monotonic() + settings.BILLING_PRICE_TABLE_LOCAL_SECONDS, table)
    return table


def price_table_forget() -> None:
    """Drop the cached price table, here and in the shared cache."""
    global _local_copy
    _local_copy = None
    cache.delete(PRICE_TABLE_CACHE_KEY)


def price_table_changed(**kwargs) -> None:
    """Drop the cached price table now and once the change commits (connected to the price
    models' save and delete signals in ``billing.apps``): a submission that read the old rows
    meanwhile may have cached them again. Other processes drop their own copy within
    ``BILLING_PRICE_TABLE_LOCAL_SECONDS``."""
    price_table_forget()
    transaction.on_commit(price_table_forget)


def price_resolve(*, plan: Plan, model: str | None) -> ModelPrice:
    """Return the price of ``model`` (None: the plan's default) if ``plan`` may use it.

    Read from the cached price table (an unsaved copy of the row, for reading). Raise
    ``ModelNotAvailable`` for an unknown model, one the plan may not use, or no default.
    """
    entry = _price_table().get(plan.pk, {"default": None, "models": {}})
    if model is None:
        model = entry["default"]
        if model is None:
            raise ModelNotAvailable("The organization's plan has no default model; name one.")
    figures = entry["models"].get(model)
    if figures is None:
        raise ModelNotAvailable(
            f"The model {model[:100]!r} does not exist or the {plan.name} plan may not use it; "
            "GET /api/v1/models lists the models this key may use."
        )
    pk, input_rate, output_rate, max_output_tokens = figures
    return ModelPrice(
        pk=pk,
        model=model,
        input_credits_per_1k_tokens=input_rate,
        output_credits_per_1k_tokens=output_rate,
        max_output_tokens=max_output_tokens,
    )


def estimated_input_tokens(prompt: str) -> int:
    """Return an upper bound of the prompt's input tokens: its UTF-8 bytes plus chat framing."""
    return len(prompt.encode("utf-8")) + CHAT_FRAMING_TOKENS


def price_credits(
    *, input_rate: Decimal, output_rate: Decimal, input_tokens: int, output_tokens: int
) -> int:
    """Return what the tokens cost at these rates (credits per 1,000 tokens), at least 1."""
    exact = (Decimal(input_tokens) * input_rate + Decimal(output_tokens) * output_rate) / 1000
    return max(MINIMUM_CHARGE, math.ceil(exact))


def price_reservation(*, price: ModelPrice, prompt: str, max_tokens: int) -> int:
    """Return the most a job can cost on ``price``: estimated input tokens and ``max_tokens``."""
    return price_credits(
        input_rate=price.input_credits_per_1k_tokens,
        output_rate=price.output_credits_per_1k_tokens,
        input_tokens=estimated_input_tokens(prompt),
        output_tokens=max_tokens,
    )


def price_charge(
    *,
    input_rate: Decimal,
    output_rate: Decimal,
    reserved: int,
    input_tokens: int | None,
    output_tokens: int | None,
) -> int:
    """Return what a finished job is charged: its reported usage's cost, capped at ``reserved``.

    Without a usable report the whole reservation is charged (money fails closed). A job that
    reserved nothing (a test key's, a support retry) is charged nothing.
    """
    if reserved <= 0:
        return 0
    if input_tokens is None or output_tokens is None:
        return reserved
    actual = price_credits(
        input_rate=input_rate,
        output_rate=output_rate,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
    )
    return min(reserved, actual)


@transaction.atomic
def modelprice_save(*, price: ModelPrice, actor: Actor, created: bool) -> ModelPrice:
    """Save a price row changed in admin and audit it with its new figures.

    Jobs already submitted keep the rates they were reserved at.
    """
    price.save()
    audit_record(
        actor=actor,
        action="model_price.created" if created else "model_price.changed",
        organization=None,
        target=price,
        metadata={
            "input_credits_per_1k_tokens": str(price.input_credits_per_1k_tokens),
            "output_credits_per_1k_tokens": str(price.output_credits_per_1k_tokens),
            "max_output_tokens": price.max_output_tokens,
        },
    )
    return price


def modelprice_access_recorded(*, price: ModelPrice, actor: Actor):
    """Audit which plans may use ``price`` and whose default it is, after admin changed them."""
    access = list(price.access.select_related("plan").order_by("plan__id"))
    return audit_record(
        actor=actor,
        action="model_price.access_changed",
        organization=None,
        target=price,
        metadata={
            "plans": [a.plan.code for a in access],
            "default_for": [a.plan.code for a in access if a.is_default],
        },
    )
