"""Display names (keys, alert rules, organizations) refuse control, bidirectional and invisible
characters, which would make one name look like another."""

import pytest

from accounts.services import organization_create
from alerts.services import alertrule_create
from apikeys.keys.services import apikey_create
from perceptis.errors import InvalidRequest
from tests.helpers import SYSTEM

BAD = [
    "Billing\u202eyek",  # right-to-left override
    "Deploy\u2066bot\u2069",  # isolates
    "pro\u200bduction",  # zero-width space
    "\ufeffKey",  # byte-order mark
    "two\u2028lines",  # line separator
    "bell\x07",
]


@pytest.mark.parametrize("name", BAD)
def test_key_names_refuse_invisible_characters(org, name):
    with pytest.raises(InvalidRequest) as caught:
        apikey_create(organization=org, name=name, actor=SYSTEM)
    assert "invisible" in str(caught.value.fields)


@pytest.mark.parametrize("name", BAD)
def test_alert_rule_names_refuse_invisible_characters(org, name):
    with pytest.raises(InvalidRequest):
        alertrule_create(
            organization=org,
            actor=SYSTEM,
            name=name,
            metric="requests",
            threshold=1,
            channel="email",
            destination="ops@example.com",
        )


@pytest.mark.parametrize("name", BAD)
def test_organization_names_refuse_invisible_characters(db, name):
    with pytest.raises(InvalidRequest):
        organization_create(name=name, plan_code="business", actor=SYSTEM)


def test_ordinary_names_in_any_script_are_fine(org):
    key, _ = apikey_create(organization=org, name="Сервис оплаты — 決済 (prod)", actor=SYSTEM)
    assert key.name == "Сервис оплаты — 決済 (prod)"
