"""Every change to API keys. Views, the API, admin, commands and tests call these."""

from apikeys.services.alerts import (  # noqa: F401
    alertdelivery_retry,
    alertrule_clean,
    alertrule_create,
    alertrule_delete,
    alertrule_update,
)
from apikeys.services.keys import (  # noqa: F401
    UNSET,
    apikey_create,
    apikey_delete,
    apikey_disable,
    apikey_enable,
    apikey_record_use,
    apikey_revoke,
    apikey_rotate,
    apikey_update,
)
