"""The app's models, one module per concern; Django loads them from here.

Code imports a model from its concern (``apikeys.keys.models``), not from this module.
"""

from apikeys.keys.models import ApiKey, FormToken, KeyExpiryWarning, KeySecret
from apikeys.usage.models import RequestLog, UsageHourly

__all__ = [
    "ApiKey",
    "FormToken",
    "KeyExpiryWarning",
    "KeySecret",
    "RequestLog",
    "UsageHourly",
]
