"""Schemathesis against the app in process: every check, stateless and stateful, no finding.

The app runs under Django's WSGI handler in the test's thread and transaction (``wsgi_app``).
A live key with every permission, in an Enterprise organization with credits and limits raised
so that the run measures the schema, not the limits. Hypothesis runs derandomized with a fixed
number of examples, so a run is repeatable and bounded.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from hypothesis.internal.conjecture import providers
from schemathesis import GenerationMode

from accounts.models import Plan
from apikeys.keys.models import Permission
from tests.helpers import bearer, openapi_error_codes

ALL = [p.value for p in Permission]
MAX_EXAMPLES = 25
HYPOTHESIS = hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(autouse=True)
def _no_constants_from_the_project(monkeypatch):
    # Hypothesis also draws strings and numbers it finds in the project's own modules (those
    # loaded so far), so a derandomized run would change with any edit anywhere in the tree and
    # with the test order. Without them a run depends only on the schema and the answers.
    monkeypatch.setattr(providers, "_get_local_constants", providers.Constants)
    providers.CONSTANTS_CACHE.cache.clear()
    yield
    providers.CONSTANTS_CACHE.cache.clear()


def _config(key: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "auth": {"openapi": {"ApiKey": {"bearer": key}}},
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
            },
            "checks": {"enabled": True},
            "operations": [
                {
                    # Semantic checks JSON Schema cannot say (an expiry in the future, a rate
                    # limit within the plan, a valid CIDR, a public address and an allowed
                    # port) answer 400 to well-shaped data.
                    "include-operation-id": [
                        "keys_create",
                        "keys_update",
                        "webhooks_create",
                        "webhooks_update",
                    ],
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "429"]
                        }
                    },
                },
                {
                    # A cursor is opaque: one the server did not hand out (in `next`) is 400
                    # (and an endpoint's deliveries are 404 for an unknown endpoint).
                    "include-operation-id": [
                        "keys_list",
                        "jobs_list",
                        "webhooks_list",
                        "webhooks_deliveries",
                    ],
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "400", "401", "403", "404", "429"]
                        }
                    },
                },
                {
                    # The public exposed-key endpoints: a NUL in a key is refused (400, which
                    # JSON Schema cannot say), GitHub's signature cannot be made up (401), and
                    # each address is rate limited (429).
                    "include-operation-id": ["keys_revoke_exposed", "secret_scanning_github"],
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "400", "401", "413", "429", "503"]
                        }
                    },
                },
                {
                    # How far apart start and end may be depends on the bucket (7 days of hours,
                    # 31 days of days), a rule between parameters JSON Schema cannot say.
                    "include-operation-id": ["usage_costs"],
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "400", "401", "403", "429"]
                        }
                    },
                },
                {
                    # An Idempotency-Key sent again with another body is 422 by design.
                    "include-operation-id": ["generate"],
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "400", "401", "402", "403", "422", "429"]
                        }
                    },
                },
            ],
        }
    )


@pytest.fixture
def full_key(make_org, make_key):
    Plan.objects.filter(code="enterprise").update(
        rate_limit_per_minute=1_000_000, max_jobs_in_flight=1_000_000
    )
    organization = make_org(plan="enterprise", credits=10_000_000)
    _, plaintext = make_key(organization, permissions=ALL)
    return organization, plaintext


@pytest.fixture
def api_schema(wsgi_app, full_key, settings):
    settings.APIKEYS_FAILED_AUTH_PER_MINUTE = 0  # the ignored_auth check sends bad keys
    _, plaintext = full_key
    return schemathesis.openapi.from_wsgi("/api/v1/schema/", wsgi_app, config=_config(plaintext))


def code_check(seen: set):
    """Return a check run on every response: its error code is in the operation's enum for its
    status. Each (operation, status, code) seen is added to ``seen``."""

    def error_code_is_declared(ctx, response, case):
        if response.status_code < 400:
            return None
        code = response.json()["error"]["code"]
        seen.add((case.operation.label, response.status_code, code))
        declared = openapi_error_codes(case.operation.definition.raw, response.status_code)
        assert code in declared, f"{case.operation.label} answered {code}, not in its enum"
        return None

    return error_code_is_declared


def _operations(api_schema):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 13
    return operations


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_passes_every_check(api_schema, mode):
    seen = set()
    recorder = code_check(seen)
    findings = []
    for operation in _operations(api_schema):

        @given(case=operation.as_strategy(generation_mode=mode))
        @HYPOTHESIS
        def check(case):
            case.call_and_validate(additional_checks=[recorder])

        try:
            check()
        except Unsatisfiable:
            assert mode == GenerationMode.NEGATIVE  # nothing in it can be made invalid
        except Exception as finding:  # every operation runs; all findings are reported together
            findings.append(f"{operation.label}: {finding}")
    assert not findings, "\n\n".join(findings)
    # The run did reach refusals: the enum check above was not vacuous.
    assert {code for _, _, code in seen} >= {"invalid_request"}


def test_stateful_sequences_pass_every_check(api_schema, full_key, make_key):
    recorder = code_check(set())
    steps = []
    organization, _ = full_key

    class Machine(api_schema.as_state_machine()):
        def setup(self):
            # A scenario may revoke, disable or rotate the key it runs with (a key may act on
            # itself, found in the key list): each starts with a key of its own.
            _, self.plaintext = make_key(organization, permissions=ALL)

        def get_call_kwargs(self, case):
            return {"headers": {"Authorization": bearer(self.plaintext)}}

        def after_call(self, response, case):
            super().after_call(response, case)
            steps.append(case.operation.label)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            # As the recording machine does, also naming the headers sent, so that the
            # ignored_auth check knows this key is the credential.
            case.validate_response(
                response,
                additional_checks=[*(additional_checks or ()), recorder],
                headers=kwargs.get("headers"),
                transport_kwargs=kwargs,
                recorder=getattr(self, "recorder", None),
            )

    def links_followed() -> bool:
        # A job was read back and canceled after generate, and a created key acted on.
        return (
            "GET /api/v1/status/{job_id}" in steps
            and "POST /api/v1/jobs/{job_id}/cancel" in steps
            and any(label.startswith("POST /api/v1/keys/{key_id}/") for label in steps)
        )

    # Which sequences a derandomized run explores shifts with the schema and the answers, so
    # the run grows (each size deterministic) until it has followed the links; every sequence of
    # every size must pass every check.
    for examples in (15, 30, 60):
        Machine.run(
            settings=hypothesis_settings(HYPOTHESIS, max_examples=examples, stateful_step_count=6)
        )
        if links_followed():
            break
    assert links_followed(), sorted(set(steps))
