"""Django's admin autodiscovery loads this module: it registers each concern's admin."""

from apikeys.keys import admin as keys_admin
from apikeys.usage import admin as usage_admin

__all__ = ["keys_admin", "usage_admin"]
