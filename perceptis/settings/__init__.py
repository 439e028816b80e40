"""Settings for the Perceptis API platform, read from the environment with django-environ.

The defaults run on one machine with nothing installed: an SQLite file, a local-memory cache
and django-q2's ORM broker. Production sets ``DATABASE_URL`` (PostgreSQL), ``REDIS_URL``,
``SECRET_KEY``, ``ALLOWED_HOSTS`` and ``DEBUG=False``.

Each setting is one plain assignment in the module of its concern, so that
``grep -rn "^NAME =" perceptis/settings/`` finds it. A variable of the environment is read
once, into the setting of its own name (``NAME = env.int("NAME", default=...)``); only
``DATABASE_URL`` goes straight into ``DATABASES`` (it holds the password). Settings built from
others (``CACHES``, ``LOGGING``, ``Q_CLUSTER``) are built once, at start: a test that wants
another cache changes ``CACHES``, not ``REDIS_TIMEOUT_SECONDS``. A module takes what it needs
from the others by name:

- ``base``: the environment, ``DEBUG``, apps, the one ``MIDDLEWARE`` list, templates, static
  files, email;
- ``security``: secrets, hosts, HTTPS, cookies, proxies, the Content-Security-Policy;
- ``database``, ``cache`` (and the request path's use of Redis);
- ``accounts``: sign-in, two-factor, sessions, passwords, invitations;
- ``api``: REST framework and the OpenAPI schema;
- ``apikeys``, ``billing``, ``jobs``, ``outbound``, ``webhooks``: each app's ``PREFIX_…`` names;
- ``worker``: django-q2;
- ``telemetry``: logs, metrics, and Sentry, started there and nowhere else.
"""

from perceptis.settings.accounts import *  # noqa: F403
from perceptis.settings.api import *  # noqa: F403
from perceptis.settings.apikeys import *  # noqa: F403
from perceptis.settings.base import *  # noqa: F403
from perceptis.settings.billing import *  # noqa: F403
from perceptis.settings.cache import *  # noqa: F403
from perceptis.settings.database import *  # noqa: F403
from perceptis.settings.jobs import *  # noqa: F403
from perceptis.settings.outbound import *  # noqa: F403
from perceptis.settings.security import *  # noqa: F403
from perceptis.settings.telemetry import *  # noqa: F403
from perceptis.settings.webhooks import *  # noqa: F403
from perceptis.settings.worker import *  # noqa: F403
