"""API keys: hashing, limits, metering, retention and alerts (``APIKEYS_…``, ``API_KEY_…``).

The Redis side of the key pipeline (the key cache, the breaker) is in ``cache.py``.
"""

from perceptis.settings.base import env
from perceptis.settings.security import SECRET_KEY

# The pepper keys the HMAC that stores API keys (derived from SECRET_KEY unless set). Each stored
# hash names its pepper's id; retired peppers ("id=secret,...") still verify the keys they made.
API_KEY_PEPPER = env.str("API_KEY_PEPPER", default="") or f"apikey-pepper:{SECRET_KEY}"
API_KEY_PEPPER_ID = env.str("API_KEY_PEPPER_ID", default="1")
API_KEY_RETIRED_PEPPERS = env.dict("API_KEY_RETIRED_PEPPERS", default={})

APIKEYS_LAST_USED_INTERVAL_SECONDS = 60
APIKEYS_MAX_ROTATION_GRACE_SECONDS = 7 * 24 * 3600
# Requests per test key per UTC day (the plan sets the organization-wide one).
APIKEYS_TEST_DAILY_QUOTA = env.int("APIKEYS_TEST_DAILY_QUOTA", default=100)
APIKEYS_RATE_LIMITS_ENABLED = env.bool("APIKEYS_RATE_LIMITS_ENABLED", default=True)
# Failed key checks one client address may make a minute before its bearer requests are refused.
APIKEYS_FAILED_AUTH_PER_MINUTE = env.int("APIKEYS_FAILED_AUTH_PER_MINUTE", default=60)
# Usage and request-log records are buffered per process and written at most this many seconds
# after the request (see apikeys.usage.metering), or sooner when the buffer fills.
APIKEYS_USAGE_FLUSH_SECONDS = env.float("APIKEYS_USAGE_FLUSH_SECONDS", default=10.0)
APIKEYS_USAGE_FLUSH_MAX_RECORDS = env.int("APIKEYS_USAGE_FLUSH_MAX_RECORDS", default=500)
# A daemon thread flushes an idle process's buffer; tests turn it off and flush explicitly.
APIKEYS_USAGE_FLUSH_THREAD = env.bool("APIKEYS_USAGE_FLUSH_THREAD", default=True)
# Off: no usage figures and no request log (the hot-path benchmark measures their cost).
APIKEYS_METERING_ENABLED = env.bool("APIKEYS_METERING_ENABLED", default=True)

# Retention: hourly usage and the request log are purged past these ages (0 keeps them).
APIKEYS_USAGE_RETENTION_DAYS = env.int("APIKEYS_USAGE_RETENTION_DAYS", default=400)
APIKEYS_REQUEST_LOG_RETENTION_DAYS = env.int("APIKEYS_REQUEST_LOG_RETENTION_DAYS", default=30)
# Rows deleted per transaction by the purge: small enough that no lock is held for long.
APIKEYS_PURGE_BATCH_SIZE = env.int("APIKEYS_PURGE_BATCH_SIZE", default=1000)

# Alert rules per organization.
APIKEYS_ALERT_MAX_RULES = env.int("APIKEYS_ALERT_MAX_RULES", default=50)
# Alert deliveries are retried and timed like webhooks (WEBHOOKS_RETRY_SCHEDULE_SECONDS,
# WEBHOOKS_DEADLINE_SECONDS): one outbound engine.
# The older name of OUTBOUND_ALLOW_PRIVATE_ADDRESSES (outbound.py), kept as an alias; default off.
APIKEYS_ALERT_ALLOW_PRIVATE_URLS = env.bool("APIKEYS_ALERT_ALLOW_PRIVATE_URLS", default=False)

# --- Exposed keys (exposure/) and key expiry warnings
# GitHub's secret-scanning public keys: fetched from this URL (cached, refetched when a report
# names an identifier not among them), or read from a file of the same JSON shape when set.
SECRET_SCANNING_GITHUB_KEYS_URL = env.str(
    "SECRET_SCANNING_GITHUB_KEYS_URL",
    default="https://api.github.com/meta/public_keys/secret_scanning",
)
SECRET_SCANNING_GITHUB_KEYS_FILE = env.str("SECRET_SCANNING_GITHUB_KEYS_FILE", default="")
SECRET_SCANNING_GITHUB_KEYS_CACHE_SECONDS = env.int(
    "SECRET_SCANNING_GITHUB_KEYS_CACHE_SECONDS", default=3600
)
# An unknown key identifier refetches the keys at most this often (a forged identifier must not
# make every request fetch from GitHub).
SECRET_SCANNING_GITHUB_KEYS_REFRESH_SECONDS = env.int(
    "SECRET_SCANNING_GITHUB_KEYS_REFRESH_SECONDS", default=60
)
# Requests one client address may make to POST /api/v1/keys/revoke-exposed per minute.
APIKEYS_REVOKE_EXPOSED_PER_MINUTE = env.int("APIKEYS_REVOKE_EXPOSED_PER_MINUTE", default=10)
