"""Settings gunicorn serves under in the HTTP benchmark: production's, and one more view.

Only ``bench/http.py`` names this module (``DJANGO_SETTINGS_MODULE``); everything else,
the security settings included, is ``perceptis.settings`` as the environment configures it.
"""

from perceptis.settings import *  # noqa: F403

ROOT_URLCONF = "bench.http_urls"
