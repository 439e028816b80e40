"""A new pepper can be brought in while the retired one still verifies the keys it hashed."""

from apikeys.keys import keyformat
from apikeys.keys.models import KeySecret
from tests.helpers import bearer

STATUS = "/api/v1/status/job_unknown"


def _answer(api, plaintext):
    return api.get(STATUS, HTTP_AUTHORIZATION=bearer(plaintext))


def test_a_stored_hash_names_the_pepper_that_made_it(org, make_key, settings):
    settings.API_KEY_PEPPER_ID = "2024"
    key, plaintext = make_key(org)
    secret = KeySecret.objects.get(key=key)
    assert secret.pepper_id == "2024"
    assert secret.secret_hash == keyformat.hash_key(plaintext, settings.API_KEY_PEPPER)
    assert plaintext not in secret.secret_hash


def test_keys_of_a_retired_pepper_still_work_and_new_keys_use_the_new_one(
    org, make_key, api, settings
):
    settings.API_KEY_PEPPER, settings.API_KEY_PEPPER_ID = "old-pepper-value", "1"
    old_key, old_plaintext = make_key(org)
    assert _answer(api, old_plaintext).status_code == 404  # past authentication: job_not_found

    settings.API_KEY_PEPPER, settings.API_KEY_PEPPER_ID = "new-pepper-value", "2"
    settings.API_KEY_RETIRED_PEPPERS = {"1": "old-pepper-value"}
    new_key, new_plaintext = make_key(org)

    assert _answer(api, old_plaintext).status_code == 404
    assert _answer(api, new_plaintext).status_code == 404
    assert KeySecret.objects.get(key=new_key).pepper_id == "2"

    # Once the old pepper is dropped, the keys it hashed stop working; the new ones go on.
    settings.API_KEY_RETIRED_PEPPERS = {}
    refused = _answer(api, old_plaintext)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    assert _answer(api, new_plaintext).status_code == 404


def test_a_retired_pepper_verifies_only_hashes_it_made(org, make_key, api, settings):
    settings.API_KEY_PEPPER, settings.API_KEY_PEPPER_ID = "old-pepper-value", "1"
    key, plaintext = make_key(org)
    # A retired pepper listed under another id does not verify the key stored as id "1".
    settings.API_KEY_PEPPER, settings.API_KEY_PEPPER_ID = "new-pepper-value", "3"
    settings.API_KEY_RETIRED_PEPPERS = {"2": "old-pepper-value"}
    assert _answer(api, plaintext).status_code == 401
