"""The dominance rule itself, as a pure function of two keys' settings."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from apikeys.keys.models import ApiKey
from apikeys.keys.privileges import (
    AXES,
    KeySettings,
    exceeded,
    models_exceeded,
    project_exceeded,
)

NOON = datetime(2027, 1, 1, 12, tzinfo=UTC)
BASE = KeySettings(
    type="live",
    environment="production",
    permissions=frozenset({"jobs:read", "keys:manage"}),
    ip_allowlist=("10.0.0.0/8", "2001:db8::/32"),
    expires_at=NOON,
    rate_limit=10,
    spend_limit_credits=100,
    spend_limit_period="month",
    allowed_models=("gpt-4o", "gpt-4o-mini"),
)


def test_a_key_dominates_itself():
    assert exceeded(BASE, BASE) == {}


@pytest.mark.parametrize(
    ("axis", "change"),
    [
        ("type", {}),  # the acting key is made a test key below
        ("environment", {"environment": "staging"}),
        ("permissions", {"permissions": frozenset({"jobs:read", "jobs:write"})}),
        ("ip_allowlist", {"ip_allowlist": ()}),
        ("ip_allowlist", {"ip_allowlist": ("10.0.0.0/7",)}),
        ("ip_allowlist", {"ip_allowlist": ("10.1.0.0/16", "192.0.2.1/32")}),
        ("ip_allowlist", {"ip_allowlist": ("::ffff:10.0.0.1/128",)}),
        ("expires_at", {"expires_at": None}),
        ("expires_at", {"expires_at": NOON + timedelta(microseconds=1)}),
        ("rate_limit_per_minute", {"rate_limit": 11}),
        ("spend_limit", {"spend_limit_credits": None, "spend_limit_period": None}),
        ("spend_limit", {"spend_limit_credits": 101}),
        ("spend_limit", {"spend_limit_period": "total"}),
        ("spend_limit", {"spend_limit_credits": 5, "spend_limit_period": "day"}),
        ("allowed_models", {"allowed_models": ()}),
        ("allowed_models", {"allowed_models": ("o1",)}),
        ("allowed_models", {"allowed_models": ("gpt-4o", "o1")}),
    ],
)
def test_each_axis_fails_alone(axis, change):
    acting = replace(BASE, type="test") if axis == "type" else BASE
    other = replace(BASE, **change) if axis != "type" else BASE
    assert list(exceeded(acting, other)) == [axis]


def test_weaker_on_every_axis_is_dominated():
    weaker = KeySettings(
        type="test",
        environment="production",
        permissions=frozenset({"jobs:read"}),
        ip_allowlist=("10.1.2.0/24", "2001:db8:1::/48"),
        expires_at=NOON - timedelta(days=1),
        rate_limit=1,
        spend_limit_credits=100,
        spend_limit_period="month",
        allowed_models=("gpt-4o-mini",),
    )
    assert exceeded(BASE, weaker) == {}


def test_an_unrestricted_acting_key_dominates_any_restriction():
    free = replace(
        BASE, ip_allowlist=(), expires_at=None, spend_limit_credits=None, allowed_models=()
    )
    assert exceeded(free, replace(BASE, ip_allowlist=(), expires_at=None)) == {}
    assert exceeded(free, BASE) == {}


def test_every_axis_fails_together_in_table_order():
    acting = replace(BASE, type="test")
    strongest = KeySettings(
        type="live",
        environment="staging",
        permissions=frozenset({"jobs:write"}),
        ip_allowlist=(),
        expires_at=None,
        rate_limit=3000,
    )
    reasons = {**exceeded(acting, strongest), **project_exceeded("proj_a", "proj_b")}
    assert tuple(reasons) == AXES


def test_the_models_axis_is_its_own_function():
    # An empty list is every model: no narrower than any list, and no list is wider than it.
    assert models_exceeded(BASE, replace(BASE, allowed_models=())) is not None
    assert models_exceeded(replace(BASE, allowed_models=()), BASE) is None
    assert models_exceeded(BASE, replace(BASE, allowed_models=("gpt-4o",))) is None
    assert "o1" in models_exceeded(BASE, replace(BASE, allowed_models=("o1", "gpt-4o")))


def test_null_rate_limit_means_the_plans_limit():
    key = ApiKey(
        type="live", environment="production", permissions=["jobs:read"], rate_limit_per_minute=5
    )
    assert KeySettings.of_key(key, plan_rate_limit=600).rate_limit == 5
    assert KeySettings.of_key(key, plan_rate_limit=3).rate_limit == 3
    lifted = KeySettings.of_key(key, plan_rate_limit=600, rate_limit_per_minute=None)
    assert lifted.rate_limit == 600


def test_a_keys_spend_limit_is_read_from_the_key():
    key = ApiKey(
        type="live",
        environment="production",
        permissions=["jobs:read"],
        spend_limit_credits=50,
        spend_limit_period="day",
    )
    settings = KeySettings.of_key(key, plan_rate_limit=600)
    assert (settings.spend_limit_credits, settings.spend_limit_period) == (50, "day")
