"""Error reports to Sentry, started by the settings (``perceptis/settings/telemetry.py``)."""

from perceptis.redaction import redact_event


def sentry_start(*, dsn: str, environment: str) -> None:
    """Start sentry-sdk with no personal data and every event passed through key redaction."""
    # Imported only when Sentry is on: the Django integration takes a while to import.
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration()],
        send_default_pii=False,
        before_send=redact_event,
        before_send_transaction=redact_event,
        before_breadcrumb=redact_event,
    )
