"""drf-spectacular's settings (``SPECTACULAR_SETTINGS``): read by ``perceptis.settings``."""

SPECTACULAR_SETTINGS = {
    "TITLE": "Perceptis API",
    "DESCRIPTION": "Generation jobs, API keys, usage and webhooks for Perceptis organizations.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Docstrings are written for developers; descriptions come from extend_schema only.
    "DISABLE_DOCSTRING_DESCRIPTIONS": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "perceptis.openapi.hooks.check_links",
    ],
    "TAGS": [
        {"name": "Jobs", "description": "Submit generation jobs and read their status."},
        {"name": "Keys", "description": "Manage the organization's API keys."},
        {"name": "Usage", "description": "Credit balance and usage per key."},
        {"name": "Models", "description": "The models a key's plan may use, with prices."},
        {"name": "Webhooks", "description": "Endpoints that receive job events."},
        {
            "name": "Exposed keys",
            "description": "Public endpoints that revoke leaked keys (no API key).",
        },
    ],
    # Jobs and keys both have a "status"; name their enums apart (and the webhook events once).
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "jobs.models.Job.Status",
        "KeyStatusEnum": "apikeys.keys.models.ApiKey.Status",
        "WebhookEventEnum": "webhooks.models.Event",
    },
}
