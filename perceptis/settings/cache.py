"""The cache, Redis or local memory, and how the request path uses Redis.

See the README's "Redis on the request path".
"""

from perceptis.settings.base import env

REDIS_URL = env.str("REDIS_URL", default="")
# REDIS_URL names a node of a Redis Cluster (any one; database 0): the cache, the request path's
# records, counters, versions and read models run on the cluster, each script call in one hash
# slot (apikeys.keys.redis_contract). Off: one Redis (or a primary with replicas).
REDIS_CLUSTER = env.bool("REDIS_CLUSTER", default=False)
# How far apart the cluster nodes' clocks may be (NTP): a key record read within this of a change
# to its key is not cached (apikeys.keys.keycache), since the miss and the change are timed by
# different nodes.
REDIS_CLUSTER_CLOCK_SKEW_MS = env.int("REDIS_CLUSTER_CLOCK_SKEW_MS", default=1000)
CACHE_KEY_PREFIX = env.str("CACHE_KEY_PREFIX", default="perceptis")
# Bounds every connect and reply: a hung Redis costs a request at most this, once per
# APIKEYS_REDIS_BREAKER_SECONDS.
REDIS_TIMEOUT_SECONDS = env.float("REDIS_TIMEOUT_SECONDS", default=0.25)
# django-redis, except that sign-in's rate limits count in each process at its share while
# Redis is unavailable (perceptis.pagecache), so pages never answer 500 for want of Redis.
_REDIS_CACHE = {
    "BACKEND": "perceptis.pagecache.PageCache",
    "LOCATION": REDIS_URL,
    "KEY_PREFIX": CACHE_KEY_PREFIX,
    "OPTIONS": {
        "CLIENT_CLASS": "django_redis.client.DefaultClient",
        "SOCKET_CONNECT_TIMEOUT": REDIS_TIMEOUT_SECONDS,
        "SOCKET_TIMEOUT": REDIS_TIMEOUT_SECONDS,
    },
}
if REDIS_CLUSTER:
    _REDIS_CACHE["OPTIONS"]["CONNECTION_FACTORY"] = "perceptis.pagecache.ClusterConnectionFactory"
_LOCAL_MEMORY_CACHE = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
CACHES = {"default": _REDIS_CACHE if REDIS_URL else _LOCAL_MEMORY_CACHE}

# Verified key records cached in Redis, read in the call that counts the request
# (apikeys.keys.keycache), trusted at most this many seconds should an invalidation be lost.
APIKEYS_KEY_CACHE = env.bool("APIKEYS_KEY_CACHE", default=bool(REDIS_URL))
APIKEYS_KEY_CACHE_SECONDS = env.int("APIKEYS_KEY_CACHE_SECONDS", default=10)
# After a Redis failure, how long each process counts on its own before trying Redis again.
APIKEYS_REDIS_BREAKER_SECONDS = env.float("APIKEYS_REDIS_BREAKER_SECONDS", default=5.0)
# The web processes gunicorn starts (gunicorn.conf.py reads the same variable).
WEB_CONCURRENCY = env.int("WEB_CONCURRENCY", default=2)
# The web processes that share each limit while counting alone: each allows its share, the
# limit divided by this, rounded down.
APIKEYS_WEB_PROCESSES = env.int("APIKEYS_WEB_PROCESSES", default=WEB_CONCURRENCY)
# How long a finished job's status body stays cached (0: off).
JOBS_READ_MODEL_SECONDS = env.int("JOBS_READ_MODEL_SECONDS", default=3600)
# How long the body of a job that can still change stays cached (Redis only): it bounds how
# long a write lost to a Redis outage shows.
JOBS_READ_MODEL_LIVE_SECONDS = env.int("JOBS_READ_MODEL_LIVE_SECONDS", default=30)
