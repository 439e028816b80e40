"""The database: ``DATABASE_URL`` (PostgreSQL in production), else an SQLite file."""

from perceptis.settings.base import BASE_DIR, env

# DATABASE_URL is read straight into DATABASES and kept nowhere else: it holds the password,
# which Django's error reports hide in DATABASES but would show in a setting of that name.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# PostgreSQL through Django's backend with a health check that costs no round trip while the
# connection is sound (perceptis.postgresql).
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "perceptis.postgresql"
# Tests get a file, not an in-memory database, so that processes the tests start (a worker,
# a web server, several clients) see the same data, as a worker beside the web process does.
SQLITE_TEST_NAME = env.str("SQLITE_TEST_NAME", default=str(BASE_DIR / "test-db.sqlite3"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the worker share one SQLite file: WAL lets readers run beside the
    # writer, IMMEDIATE transactions take the write lock up front instead of failing on upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    DATABASES["default"]["TEST"] = {"NAME": SQLITE_TEST_NAME}
# Persistent connections: opening one (and its SQLite pragmas) outweighs a request's queries.
CONN_MAX_AGE = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"].setdefault("CONN_MAX_AGE", CONN_MAX_AGE)
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
# On PostgreSQL the hot paths' statements (the key lookup, a submission) are prepared once per
# database session (``perceptis.db.PreparedStatement``). Turn them off behind a pooler in
# transaction mode, where a session's statements do not follow its client.
# ``APIKEYS_PREPARED_KEY_LOOKUP`` is the earlier name of the switch, when it covered the key
# lookup only: a deployment that turned it off keeps every statement unprepared.
APIKEYS_PREPARED_KEY_LOOKUP = env.bool("APIKEYS_PREPARED_KEY_LOOKUP", default=True)
DATABASE_PREPARED_STATEMENTS = env.bool(
    "DATABASE_PREPARED_STATEMENTS", default=APIKEYS_PREPARED_KEY_LOOKUP
)
