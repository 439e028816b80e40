"""What the hot-path benchmark measures: the variants of the status view and the settings."""

from dataclasses import dataclass, field

from django.conf import settings


@dataclass(frozen=True)
class Variant:
    name: str
    label: str
    path: str  # with ``{job_id}``
    credential: str  # "", "token" or "key"
    database: str = ""  # the alias of the ORM key lookup; "" for the product's own lookup


@dataclass(frozen=True)
class Config:
    """A named set of settings the variants are measured under."""

    name: str
    settings: dict = field(default_factory=dict)
    job: str = "finished"  # the job polled: "finished" or "running"


VARIANTS = [
    Variant("none", "no authentication", "/bench/none/status/{job_id}", ""),
    Variant("drf-token", "DRF TokenAuthentication", "/bench/token/status/{job_id}", "token"),
    Variant("perceptis", "API key pipeline", "/api/v1/status/{job_id}", "key"),
    # The same pipeline with the key row fetched by the plain ORM (bench.authentication).
    Variant("orm", "pipeline, ORM key lookup", "/api/bench/orm/status/{job_id}", "key", "default"),
]
BASELINE, YARDSTICK, PRODUCT = (v.name for v in VARIANTS[:3])
# On PostgreSQL, the ORM lookup on connections with Django's psycopg 3 options (bench.settings):
# server-side parameter binding, and that plus psycopg's automatic prepared statements.
if "bench_binding" in settings.DATABASES:
    VARIANTS += [
        Variant(
            "orm-ssb",
            "ORM, server_side_binding",
            "/api/bench/orm-ssb/status/{job_id}",
            "key",
            "bench_binding",
        ),
        Variant(
            "orm-prep",
            "ORM, ssb + prepare_threshold",
            "/api/bench/orm-prep/status/{job_id}",
            "key",
            "bench_prepared",
        ),
    ]

# More switches are added here; each is measured in the same run. With its read model on, the
# API answers a poll of a finished or a running job without a query; "read model off" reads the
# job from the database, as every poll of a running job did before the read model kept them.
_NO_READ_MODEL = {"JOBS_READ_MODEL_SECONDS": 0}
_ON = {"APIKEYS_RATE_LIMITS_ENABLED": True, "APIKEYS_METERING_ENABLED": True}
CONFIGS = [
    Config("production: key cache and finished-job read model", dict(_ON)),
    Config("production, running job: key cache and its read model", dict(_ON), job="running"),
    Config(
        "read model off, running job: the job from the database",
        {**_ON, **_NO_READ_MODEL},
        job="running",
    ),
    Config(
        "before: no key cache (a key query and a counter call), the job from the database",
        {**_ON, **_NO_READ_MODEL, "APIKEYS_KEY_CACHE": False},
    ),
    Config(
        "metering and rate limiting off, the job from the database",
        {
            "APIKEYS_RATE_LIMITS_ENABLED": False,
            "APIKEYS_METERING_ENABLED": False,
            **_NO_READ_MODEL,
        },
    ),
]
# The configurations whose product times give what metering and limiting add together.
WITH_BOTH, WITHOUT_BOTH = CONFIGS[2].name, CONFIGS[4].name
