"""The cache settings: Redis or local memory, and how the request path uses Redis."""


def cache_settings(env, redis_url: str) -> dict:
    """Return ``CACHES`` and the settings of the request path's use of Redis.

    - ``CACHES``: Redis at ``REDIS_URL`` (key prefix ``CACHE_KEY_PREFIX``), else local memory.
      On Redis, sign-in's rate limits count in each process while Redis is unavailable
      (``perceptis.pagecache``).
      ``REDIS_TIMEOUT_SECONDS`` (0.25) bounds every connect and reply: a hung Redis costs a
      request at most that, once per ``APIKEYS_REDIS_BREAKER_SECONDS``.
    - ``APIKEYS_KEY_CACHE`` (on with Redis): verified key records cached in Redis, read in the
      call that counts the request (``apikeys.keys.keycache``), trusted at most
      ``APIKEYS_KEY_CACHE_SECONDS`` (10) should an invalidation be lost.
    - ``APIKEYS_REDIS_BREAKER_SECONDS`` (5): after a Redis failure, how long each process counts
      on its own before trying Redis again.
    - ``APIKEYS_WEB_PROCESSES`` (``WEB_CONCURRENCY``, 2): the web processes that share each limit
      while counting alone; each allows its share, the limit divided by this, rounded down.
    - ``JOBS_READ_MODEL_SECONDS`` (3600): how long a finished job's status body stays cached.
    """
    timeout = env.float("REDIS_TIMEOUT_SECONDS", default=0.25)
    if redis_url:
        caches = {
            "default": {
                "BACKEND": "perceptis.pagecache.PageCache",
                "LOCATION": redis_url,
                "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="perceptis"),
                "OPTIONS": {
                    "CLIENT_CLASS": "django_redis.client.DefaultClient",
                    "SOCKET_CONNECT_TIMEOUT": timeout,
                    "SOCKET_TIMEOUT": timeout,
                },
            }
        }
    else:
        caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    return {
        "CACHES": caches,
        "APIKEYS_KEY_CACHE": env.bool("APIKEYS_KEY_CACHE", default=bool(redis_url)),
        "APIKEYS_KEY_CACHE_SECONDS": env.int("APIKEYS_KEY_CACHE_SECONDS", default=10),
        "APIKEYS_REDIS_BREAKER_SECONDS": env.float("APIKEYS_REDIS_BREAKER_SECONDS", default=5.0),
        "APIKEYS_WEB_PROCESSES": env.int(
            "APIKEYS_WEB_PROCESSES", default=env.int("WEB_CONCURRENCY", default=2)
        ),
        "JOBS_READ_MODEL_SECONDS": env.int("JOBS_READ_MODEL_SECONDS", default=3600),
    }
