from apikeys.models.alerts import AlertDelivery, AlertRule  # noqa: F401
from apikeys.models.keys import DEFAULT_PERMISSIONS, ApiKey, KeySecret, Permission  # noqa: F401
from apikeys.models.usage import LATENCY_BUCKETS_MS, RequestLog, UsageHourly  # noqa: F401
