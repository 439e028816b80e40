"""Settings for the hot-path benchmark: the product's settings plus DRF's token app.

``rest_framework.authtoken`` is only here, as the yardstick the API's key pipeline is measured
against; the product does not install it.
"""

import os
import tempfile

from perceptis.settings import *  # noqa: F403
from perceptis.settings import CACHES, DATABASES, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework.authtoken"]
ROOT_URLCONF = "bench.urls"
# Measure what production runs: no query log, no debug pages.
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

# A throwaway database, created and dropped by the benchmark through Django's test-database
# machinery: a temporary file for SQLite, ``<name>_bench`` on PostgreSQL.
_default = DATABASES["default"]
if _default["ENGINE"] == "django.db.backends.sqlite3":
    _default["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"perceptis_bench_{os.getpid()}.sqlite3")
    }
else:
    _default["TEST"] = {"NAME": f"{_default['NAME']}_bench"}
    # The same database through connections with Django's psycopg 3 options, for the ORM
    # key-lookup variants (bench.variants): server-side parameter binding, and that plus
    # psycopg's automatic prepared statements (a query prepared from its fifth execution).
    for _alias, _options in (
        ("bench_binding", {"server_side_binding": True}),
        ("bench_prepared", {"server_side_binding": True, "prepare_threshold": 5}),
    ):
        DATABASES[_alias] = {
            **_default,
            "OPTIONS": {**_default.get("OPTIONS", {}), **_options},
            "TEST": {"MIRROR": "default"},
        }

# Its rate-limit counters stay apart from the product's in a shared Redis.
CACHES["default"]["KEY_PREFIX"] = "perceptis-bench"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"handlers": [], "level": "WARNING"},
}
