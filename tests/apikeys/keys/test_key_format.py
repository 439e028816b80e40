"""The key format: generation, parsing, checksum, hint, keyed hash and Key IDs."""

import hashlib
import hmac
import re
import string

import pytest

from apikeys.keys import keyformat
from perceptis.redaction import redact


@pytest.mark.parametrize("key_type", ["live", "test"])
def test_generated_key_parses_back_with_its_type(key_type):
    plaintext = keyformat.generate(key_type)
    assert plaintext.startswith(f"sk-{key_type}-per-")
    assert len(plaintext) == keyformat.KEY_LENGTH
    parsed = keyformat.parse(plaintext)
    assert parsed is not None
    assert parsed.key == plaintext
    assert parsed.type == key_type


def test_generated_keys_are_distinct():
    assert len({keyformat.generate("live") for _ in range(200)}) == 200


def test_unknown_key_type_cannot_be_generated():
    with pytest.raises(ValueError):
        keyformat.generate("prod")


def test_checksum_catches_every_single_character_typo():
    plaintext = keyformat.generate("live")
    alphabet = string.ascii_letters + string.digits + "-_"
    start = len("sk-live-per-")
    for position in range(start, len(plaintext)):
        for replacement in alphabet[::7]:
            if replacement == plaintext[position]:
                continue
            typo = plaintext[:position] + replacement + plaintext[position + 1 :]
            assert keyformat.parse(typo) is None, (position, replacement)


def test_swapping_the_type_invalidates_the_checksum():
    plaintext = keyformat.generate("live")
    assert keyformat.parse(plaintext.replace("sk-live-", "sk-test-", 1)) is None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: k.replace("sk-", "pk-", 1),
        lambda k: k.replace("-per-", "-xyz-", 1),
        lambda k: k[:-1],
        lambda k: k + "A",
        lambda k: " " + k[1:],
        lambda k: k + "\n",
        lambda k: k[:20] + "+" + k[21:],
        lambda k: "",
    ],
    ids=["prefix", "vendor", "short", "long", "space", "newline", "non-base64url", "empty"],
)
def test_keys_of_the_wrong_shape_do_not_parse(mangle):
    assert keyformat.parse(mangle(keyformat.generate("live"))) is None


def test_hint_shows_the_prefix_and_last_four_characters_only():
    plaintext = keyformat.generate("test")
    hint = keyformat.hint(plaintext)
    assert hint == f"sk-test-per-…{plaintext[-4:]}"
    assert re.fullmatch(r"sk-(live|test)-per-…[A-Za-z0-9_-]{4}", hint)


def test_hash_is_hmac_sha256_under_the_pepper(settings):
    settings.API_KEY_PEPPER = "pepper-one"
    plaintext = keyformat.generate("live")
    expected = hmac.new(b"pepper-one", plaintext.encode(), hashlib.sha256).hexdigest()
    assert keyformat.hash_key(plaintext) == expected
    assert plaintext not in keyformat.hash_key(plaintext)


def test_changing_the_pepper_changes_the_hash(settings):
    plaintext = keyformat.generate("live")
    settings.API_KEY_PEPPER = "pepper-one"
    first = keyformat.hash_key(plaintext)
    settings.API_KEY_PEPPER = "pepper-two"
    assert keyformat.hash_key(plaintext) != first
    assert keyformat.hash_key(plaintext) != hashlib.sha256(plaintext.encode()).hexdigest()


def test_key_ids_are_unique_and_public_shaped():
    ids = {keyformat.new_key_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"key_[A-Za-z0-9]{16}", key_id) for key_id in ids)


def test_search_pattern_finds_keys_in_free_text():
    plaintext = keyformat.generate("live")
    text = f"log line token={plaintext}; next"
    assert keyformat.KEY_SEARCH_RE.findall(text) == [plaintext]


def test_redact_removes_whole_and_cut_short_keys():
    plaintext = keyformat.generate("live")
    text = f"GET /api/v1/status/{plaintext} and {plaintext[:30]}"
    redacted = redact(text)
    assert plaintext[12:30] not in redacted
    assert redacted.count("sk-live-per-[redacted]") == 2
