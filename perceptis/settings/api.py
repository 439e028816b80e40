"""The API: Django REST framework and the OpenAPI schema (drf-spectacular)."""

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apikeys.keys.authentication.ApiKeyAuthentication"],
    # The request pipeline, in order (apikeys.keys.pipeline): every API view gets all of it.
    "DEFAULT_PERMISSION_CLASSES": [
        "apikeys.keys.pipeline.KeyAccess",
        "apikeys.keys.pipeline.HasKeyPermission",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["apikeys.keys.pipeline.KeyRateLimit"],
    "DEFAULT_PARSER_CLASSES": ["perceptis.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "perceptis.exception_handler.api_exception_handler",
    # Errors, headers, tags and links of every operation from one place (perceptis.openapi).
    "DEFAULT_SCHEMA_CLASS": "perceptis.openapi.schema.ApiAutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "iso-8601",
}

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
        {"name": "Projects", "description": "The key's project and its month's spend."},
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
