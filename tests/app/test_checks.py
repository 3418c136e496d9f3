"""System checks report each configuration mistake with its stable id."""

import pytest
from django.core import checks

from django_smartcar.checks import check_settings, check_stored_tokens_decrypt
from django_smartcar.models import SmartcarAccount

GOOD_KEY = "uo-U2VotAXZM5w9kAalyuM5E4sT2l2kW4L7yn6BCCss="
SHARED_CACHE = {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "smartcar_throttle"}


def ids(messages):
    return sorted(message.id for message in messages)


@pytest.fixture
def good(settings):
    settings.DEBUG = True
    settings.CACHES = {**settings.CACHES, "shared": SHARED_CACHE}
    settings.SMARTCAR = {
        "CLIENT_ID": "id",
        "CLIENT_SECRET": "secret",
        "ENCRYPTION_KEYS": [GOOD_KEY],
        "MODE": "simulated",
        "THROTTLE_CACHE": "shared",
    }
    return settings


def configure(settings, **changes):
    settings.SMARTCAR = {**settings.SMARTCAR, **changes}


def test_a_complete_configuration_passes(good):
    assert check_settings() == []


def test_the_checks_are_registered_with_django(good):
    configure(good, CLIENT_ID="")
    assert "django_smartcar.E001" in ids(checks.run_checks())


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"CLIENT_ID": None}, "django_smartcar.E001"),
        ({"CLIENT_SECRET": ""}, "django_smartcar.E001"),
        ({"ENCRYPTION_KEYS": []}, "django_smartcar.E002"),
        ({"ENCRYPTION_KEYS": ["not-a-fernet-key"]}, "django_smartcar.E003"),
        ({"ENCRYPTION_KEYS": [GOOD_KEY, "short"]}, "django_smartcar.E003"),
        ({"SCOPE": ["read_odometer", "read_everything"]}, "django_smartcar.E004"),
        ({"SCOPE": "read_odometer"}, "django_smartcar.E004"),
        ({"REDIRECT_URI": "/smartcar/callback/"}, "django_smartcar.E005"),
        ({"REDIRECT_URL_NAME": "no-such-url"}, "django_smartcar.E005"),
        ({"MODE": "production"}, "django_smartcar.E006"),
        ({"UNIT_SYSTEM": "nautical"}, "django_smartcar.E007"),
    ],
)
def test_each_mistake_has_its_id_and_a_hint(good, changes, expected):
    configure(good, **changes)
    messages = check_settings()
    assert ids(messages) == [expected]
    assert messages[0].hint


def test_a_malformed_key_is_not_echoed_in_the_message(good):
    configure(good, ENCRYPTION_KEYS=["very-secret-but-malformed"])
    (message,) = check_settings()
    assert "very-secret-but-malformed" not in message.msg + message.hint


def test_test_mode_without_debug_is_a_warning(good):
    good.DEBUG = False
    messages = check_settings()
    assert ids(messages) == ["django_smartcar.W001"]
    assert messages[0].level == checks.WARNING


@pytest.mark.django_db
def test_tokens_no_configured_key_can_decrypt_are_a_database_check_error(good, django_user_model):
    account = SmartcarAccount(owner=django_user_model.objects.create(username="ann"), smartcar_user_id="u1")
    account.access_token = "access"
    account.refresh_token = "refresh"
    account.access_expires_at = account.refresh_expires_at = account.connected_at
    account.save()
    assert check_stored_tokens_decrypt(databases=["default"]) == []

    # The key the tokens were written with is dropped: deploy-time error, not a crash at request time.
    configure(good, ENCRYPTION_KEYS=["K-ewv9ECXCtSPUrXvMbUmDLIeQ-WLN1qw8CmKXJE3cE="])
    assert ids(check_stored_tokens_decrypt(databases=["default"])) == ["django_smartcar.E008"]


@pytest.mark.parametrize(
    "backend",
    ["django.core.cache.backends.locmem.LocMemCache", "django.core.cache.backends.dummy.DummyCache"],
)
def test_a_per_process_throttle_cache_without_debug_is_a_warning(good, backend):
    good.DEBUG = False
    good.CACHES = {**good.CACHES, "shared": {"BACKEND": backend}}
    configure(good, MODE="live")
    (message,) = check_settings()
    assert message.id == "django_smartcar.W006" and message.level == checks.WARNING
    assert "'shared'" in message.msg and "THROTTLE_CACHE" in message.hint


def test_a_per_process_throttle_cache_is_fine_in_development(good):
    good.CACHES = {**good.CACHES, "shared": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert check_settings() == []


def test_a_shared_throttle_cache_without_debug_passes(good):
    good.DEBUG = False
    configure(good, MODE="live")
    assert check_settings() == []


def test_an_unknown_throttle_cache_is_an_error(good):
    configure(good, THROTTLE_CACHE="nowhere")
    (message,) = check_settings()
    assert message.id == "django_smartcar.E014" and "'nowhere'" in message.msg
