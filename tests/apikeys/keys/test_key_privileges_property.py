"""Property: a key acting through the API never makes or leaves a key more powerful than itself.

Random acting keys send random create and PATCH bodies, and keys they create act in turn. After
every request, every key that exists was made by an operator (the seeded keys) or is dominated
by the key that last created or changed it, as that key was when it acted; a key refused
changes nothing; and a request is refused exactly when the rule, written out again here
independently of ``apikeys.keys.privileges``, says the result would exceed the acting key.
"""

import ipaddress
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apikeys.keys.models import ApiKey, Permission

ALL = list(Permission.values)
OTHER_PERMISSIONS = [p for p in ALL if p != Permission.KEYS_MANAGE]
# Nested and disjoint ranges of both IP versions; the test client's address is 127.0.0.1.
LOOPBACK = ["127.0.0.0/8", "127.0.0.1/32"]
CIDRS = [*LOOPBACK, "127.0.0.0/24", "10.0.0.0/8", "10.1.0.0/16", "::1/128"]
HOURS = [1, 24, 48, 720]  # few values, so that equal expiries come up
RATES = [1, 5, 60, 600]
FIELDS = ("type", "environment", "permissions", "ip_allowlist", "expires_at", "rate")

permission_sets = st.sets(st.sampled_from(ALL), min_size=1).map(
    lambda chosen: [p for p in ALL if p in chosen]
)
acting_keys = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["live", "test"]),
        "environment": st.sampled_from(ApiKey.Environment.values),
        "permissions": st.sets(st.sampled_from(OTHER_PERMISSIONS)).map(
            lambda chosen: [p for p in ALL if p in chosen or p == Permission.KEYS_MANAGE]
        ),
        "ip_allowlist": st.one_of(
            st.just([]),
            st.tuples(st.sampled_from(LOOPBACK), st.lists(st.sampled_from(CIDRS), max_size=2)).map(
                lambda t: [t[0], *t[1]]
            ),
        ),
        "expires_in_hours": st.one_of(st.none(), st.sampled_from(HOURS)),
        "rate_limit_per_minute": st.one_of(st.none(), st.sampled_from(RATES)),
    }
)
# A body is the acting key's own settings (create) or no change (PATCH) on every field but up
# to two, which get random values: bodies beyond the rule on exactly one axis, where a single
# missing check would show, come up often. OMIT leaves the field out of the body; SAME sends
# the acting key's own value.
OMIT, SAME = "omit the field", "same as the acting key"
change_fields = {
    "permissions": permission_sets,
    "ip_allowlist": st.one_of(st.none(), st.lists(st.sampled_from(CIDRS), min_size=1, max_size=2)),
    "expires_in_hours": st.one_of(st.none(), st.sampled_from(HOURS)),
    "rate_limit_per_minute": st.one_of(st.none(), st.sampled_from(RATES)),
}
create_fields = {
    "type": st.sampled_from(["live", "test"]),
    "environment": st.sampled_from(ApiKey.Environment.values),
    **change_fields,
}


def _bodies(fields: dict, unchanged: str):
    perturbed = st.lists(
        st.one_of(
            *(
                st.tuples(st.just(name), st.one_of(values, st.sampled_from([OMIT, SAME])))
                for name, values in fields.items()
            )
        ),
        max_size=2,
    ).map(dict)
    return perturbed.map(lambda chosen: {name: chosen.get(name, unchanged) for name in fields})


create_bodies = _bodies(create_fields, SAME)
# A PATCH setting every field to the acting key's values but one or two makes the target no
# stronger than the acting key: only the check of the target's current settings can refuse it.
patch_bodies = st.one_of(_bodies(change_fields, OMIT), _bodies(change_fields, SAME))
operations = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.integers(0, 20), create_bodies),
        st.tuples(st.just("patch"), st.integers(0, 20), st.integers(0, 20), patch_bodies),
    ),
    min_size=1,
    max_size=5,
)


def _settings(row: dict, plan_limit: int) -> dict:
    own = row["rate_limit_per_minute"]
    return {
        "type": row["type"],
        "environment": row["environment"],
        "permissions": set(row["permissions"]),
        "ip_allowlist": [ipaddress.ip_network(c) for c in row["ip_allowlist"]],
        "expires_at": row["expires_at"],
        "rate": plan_limit if own is None else min(own, plan_limit),
    }


def dominates(a: dict, b: dict) -> bool:
    """Return whether settings ``a`` are at least as powerful as ``b`` on every axis."""
    inside = all(
        any(n.version == m.version and n.subnet_of(m) for m in a["ip_allowlist"])
        for n in b["ip_allowlist"]
    )
    return (
        (a["type"] == "live" or b["type"] == "test")
        and a["environment"] == b["environment"]
        and b["permissions"] <= a["permissions"]
        and (not a["ip_allowlist"] or (bool(b["ip_allowlist"]) and inside))
        and (
            a["expires_at"] is None
            or (b["expires_at"] is not None and b["expires_at"] <= a["expires_at"])
        )
        and b["rate"] <= a["rate"]
    )


def _snapshot(org, plan_limit) -> dict:
    rows = ApiKey.objects.filter(organization=org).values(
        "key_id", "type", "environment", "permissions", "ip_allowlist", "expires_at",
        "rate_limit_per_minute", "status", "hint",
    )  # fmt: skip
    return {r["key_id"]: {**_settings(r, plan_limit), "raw": r} for r in rows}


def _usable(settings: dict) -> bool:
    """Return whether the pipeline lets this key reach the key-management API from 127.0.0.1."""
    address = ipaddress.ip_address("127.0.0.1")
    return Permission.KEYS_MANAGE in settings["permissions"] and (
        not settings["ip_allowlist"] or any(address in n for n in settings["ip_allowlist"])
    )


def _body(fields: dict, now, acting: dict) -> dict:
    """Return the request body for drawn ``fields``, SAME taken from the acting key's row."""
    body = {}
    for field, value in fields.items():
        if value == OMIT:
            continue
        if field == "expires_in_hours":
            if value == SAME:
                expires = acting["raw"]["expires_at"]
            else:
                expires = None if value is None else now + timedelta(hours=value)
            body["expires_at"] = None if expires is None else expires.isoformat()
        else:
            body[field] = acting["raw"][field] if value == SAME else value
    return body


@hypothesis_settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seeds=st.lists(acting_keys, min_size=1, max_size=2), ops=operations)
def test_no_key_ends_up_more_powerful_than_the_key_that_made_it(
    org, make_key, client_for, settings, seeds, ops
):
    settings.APIKEYS_RATE_LIMITS_ENABLED = False
    settings.APIKEYS_METERING_ENABLED = False
    plan_limit = org.plan.rate_limit_per_minute
    now = timezone.now()
    with transaction.atomic():
        cache.clear()
        actors = []  # (key_id, plaintext) of every key that can send requests
        for seed in seeds:
            hours = seed.pop("expires_in_hours")
            expires_at = None if hours is None else now + timedelta(hours=hours)
            key, plaintext = make_key(org, expires_at=expires_at, **seed)  # by an operator
            actors.append((key.key_id, plaintext))
        makers = {}  # key_id: settings of the key that last created or changed it
        for op in ops:
            before = _snapshot(org, plan_limit)
            actor_id, plaintext = actors[op[1] % len(actors)]
            acting = before[actor_id]
            client = client_for(plaintext)
            with override_settings(PERCEPTIS_ENVIRONMENT=acting["environment"]):
                if op[0] == "create":
                    body = _body(op[2], now, acting)
                    response = client.post("/api/v1/keys", {"name": "k", **body}, format="json")
                    proposed = _settings(
                        {
                            "type": body.get("type", "live"),
                            "environment": body.get("environment", acting["environment"]),
                            "permissions": body.get("permissions", ["jobs:write", "jobs:read"]),
                            "ip_allowlist": body.get("ip_allowlist") or [],
                            "expires_at": _parsed(body.get("expires_at")),
                            "rate_limit_per_minute": body.get("rate_limit_per_minute"),
                        },
                        plan_limit,
                    )
                    allowed = dominates(acting, proposed)
                else:
                    target_id = sorted(before)[op[2] % len(before)]
                    body = _body(op[3], now, acting)
                    response = client.patch(f"/api/v1/keys/{target_id}", body, format="json")
                    target = before[target_id]
                    raw = {**target["raw"], **body}
                    raw["ip_allowlist"] = [
                        str(ipaddress.ip_network(c, strict=False))
                        for c in raw["ip_allowlist"] or []
                    ]
                    raw["expires_at"] = _parsed(raw["expires_at"])
                    proposed = _settings(raw, plan_limit)
                    allowed = dominates(acting, target) and dominates(acting, proposed)
            after = _snapshot(org, plan_limit)
            changed = {k for k in after if k not in before or _core(after[k]) != _core(before[k])}

            event(
                "refused: acting key cannot reach the API"
                if not _usable(acting)
                else ("allowed" if allowed else "refused: exceeds_own_privileges")
            )
            if not _usable(acting):
                assert response.status_code == 403
                assert response.json()["error"]["code"] != "exceeds_own_privileges"
                assert not changed
                continue
            hidden = op[0] == "patch" and acting["type"] == "test" != target["type"]
            if hidden:  # a test key does not see live keys at all
                assert response.status_code == 404, (op, response.json())
                assert response.json()["error"]["code"] == "key_not_found"
                assert not changed
            elif allowed:
                assert response.status_code in (200, 201), (op, response.json())
            else:
                assert response.status_code == 403, (op, response.json())
                assert response.json()["error"]["code"] == "exceeds_own_privileges"
                assert not changed, "a refused change must change nothing"
            for key_id in changed:
                assert dominates(acting, after[key_id]), (op, after[key_id])
                makers[key_id] = acting
            if response.status_code == 201:
                actors.append((response.json()["id"], response.json()["key"]))

        # The invariant over everything that exists afterwards.
        final = _snapshot(org, plan_limit)
        seeded = {key_id for key_id, _ in actors[: len(seeds)]}
        for key_id, settings_now in final.items():
            assert key_id in makers or key_id in seeded, key_id
            if key_id in makers:
                assert dominates(makers[key_id], settings_now)
        transaction.set_rollback(True)


def _core(settings: dict) -> tuple:
    return tuple(
        sorted(map(str, value)) if isinstance(value, (set, list)) else value
        for value in (settings[field] for field in FIELDS)
    )


def _parsed(value):
    return datetime.fromisoformat(value) if isinstance(value, str) else value
