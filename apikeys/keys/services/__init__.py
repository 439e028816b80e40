"""Every change to API keys. Views, the API, admin, commands and tests call these.

Each function takes the ``actor`` who caused the change and writes the audit row in the same
transaction; refusals are ``DomainError`` subclasses with stable codes.
"""

from apikeys.keys.services.changes import (
    UNSET,
    apikey_delete,
    apikey_disable,
    apikey_enable,
    apikey_record_use,
    apikey_revoke,
    apikey_rotate,
    apikey_update,
)
from apikeys.keys.services.creation import apikey_create
from apikeys.keys.services.exposure import apikey_revoke_exposed
from apikeys.keys.services.form_tokens import (
    form_token_claim,
    form_token_done,
    form_token_issue,
    form_token_release,
    form_tokens_purge,
)

__all__ = [
    "UNSET",
    "apikey_create",
    "apikey_delete",
    "apikey_disable",
    "apikey_enable",
    "apikey_record_use",
    "apikey_revoke",
    "apikey_revoke_exposed",
    "apikey_rotate",
    "apikey_update",
    "form_token_claim",
    "form_token_done",
    "form_token_issue",
    "form_token_release",
    "form_tokens_purge",
]
