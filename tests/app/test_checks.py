"""System checks report each configuration mistake with its stable id."""

from datetime import timedelta

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from django_smartcar.checks import check_settings, check_stored_tokens_decrypt
from django_smartcar.conf import smartcar_settings
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
        ({"SCOPE": "read_odometer"}, "django_smartcar.E010"),
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


def test_every_documented_permission_and_the_required_prefix_pass(good):
    configure(good, SCOPE=["required:read_odometer", "read_climate", "read_vin"])
    assert check_settings() == []
    call_command("check", fail_level="ERROR")  # raises SystemCheckError on any error
    configure(good, SCOPE=["required:control_trunk", "read_thermometer", "read_user_profile", "control_pin"])
    assert check_settings() == []


def test_a_misspelled_permission_gets_the_closest_one_as_hint(good):
    configure(good, SCOPE=["required:read_odometr", "read_climate", "read_vni", "read_everything_please"])

    messages = check_settings()

    assert ids(messages) == ["django_smartcar.E004"] * 3
    odometer, vin, unknown = messages
    assert (
        "'required:read_odometr'" in odometer.msg
        and odometer.hint == "Did you mean 'required:read_odometer'?"
    )
    assert "'read_vni'" in vin.msg and vin.hint == "Did you mean 'read_vin'?"
    # Nothing close: the hint lists Smartcar's permissions and the prefix.
    assert (
        "read_climate" in unknown.hint and "control_trunk" in unknown.hint and "'required:'" in unknown.hint
    )


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


NEW_KEY = "K-ewv9ECXCtSPUrXvMbUmDLIeQ-WLN1qw8CmKXJE3cE="


def make_account(django_user_model, name: str) -> SmartcarAccount:
    account = SmartcarAccount(owner=django_user_model.objects.create(username=name), smartcar_user_id=name)
    account.access_token = f"access-{name}"
    account.refresh_token = f"refresh-{name}"
    account.access_expires_at = account.refresh_expires_at = account.connected_at
    account.save()
    return account


@pytest.mark.django_db
def test_accounts_under_a_removed_key_are_found_even_when_the_newest_is_readable(good, django_user_model):
    # Most accounts were written under the old key; only the most recently updated one under the new key.
    for number in range(4):
        make_account(django_user_model, f"old-{number}")
    configure(good, ENCRYPTION_KEYS=[NEW_KEY, GOOD_KEY])
    make_account(django_user_model, "new")
    assert check_stored_tokens_decrypt(databases=["default"]) == []

    # The old key is removed before the accounts were re-encrypted.
    configure(good, ENCRYPTION_KEYS=[NEW_KEY])
    (message,) = check_stored_tokens_decrypt(databases=["default"])
    assert message.id == "django_smartcar.E008"
    assert "4 of the 5 accounts checked" in message.msg


@pytest.mark.django_db
def test_an_unreadable_access_token_alone_is_found(good, django_user_model):
    account = make_account(django_user_model, "ann")
    configure(good, ENCRYPTION_KEYS=[NEW_KEY, GOOD_KEY])
    # Only the refresh token was re-written under the new key (e.g. a partial re-encryption).
    account.refresh_token = "refresh-ann"
    account.save()
    configure(good, ENCRYPTION_KEYS=[NEW_KEY])
    assert ids(check_stored_tokens_decrypt(databases=["default"])) == ["django_smartcar.E008"]


@pytest.mark.parametrize(
    "misspelled, closest",
    [("CLIENTID", "CLIENT_ID"), ("ENCRYPTION_KEY", "ENCRYPTION_KEYS"), ("REDIRECT_URL", "REDIRECT_URI")],
)
def test_a_misspelled_key_is_an_error_naming_the_closest_setting(good, misspelled, closest):
    configure(good, **{misspelled: "value"})
    (message,) = check_settings()
    assert message.id == "django_smartcar.E009"
    assert misspelled in message.msg
    assert repr(closest) in message.hint


@pytest.mark.parametrize(
    "name, value",
    [
        ("REQUEST_TIMEOUT", "ten"),
        ("REQUEST_TIMEOUT", 0),
        ("TIMEOUTS", 310),
        ("TIMEOUTS", {"reads": 310}),
        ("TIMEOUTS", {"read": 0}),
        ("TIMEOUTS", {"command": "310"}),
        ("TIMEOUTS", {"token": [1, 2, 3]}),
        ("STATE_MAX_AGE", "abc"),
        ("ACCESS_TOKEN_REFRESH_MARGIN", 5),
        ("REFRESH_TOKEN_ROTATION_WINDOW", timedelta(days=-1)),
        ("TASK_MAX_RETRIES", True),
        ("FANOUT_CHUNK_SIZE", 0),
        ("WEBHOOK_ENDPOINTS", ["not", "a", "dict"]),
        ("VEHICLE_REFRESH_INTERVAL", 3600),
        ("MODE", 1),
    ],
)
def test_a_value_of_the_wrong_type_or_range_is_an_error_and_raises_when_read(good, name, value):
    configure(good, **{name: value})
    (message,) = check_settings()
    assert message.id == "django_smartcar.E010"
    assert f'SMARTCAR["{name}"]' in message.msg
    assert message.hint
    # The same message at call time, instead of a TypeError deep in a task.
    with pytest.raises(ImproperlyConfigured) as raised:
        getattr(smartcar_settings, name)
    assert str(raised.value) == message.msg


@pytest.mark.parametrize(
    "name, value",
    [
        ("REQUEST_TIMEOUT", 10),
        ("TIMEOUTS", {"read": 310, "command": 310.0, "token": [3.05, 20], "management": (3.05, 30)}),
        ("STATE_MAX_AGE", 300.0),
        ("RETRY_BACKOFF", 0.5),
        ("VEHICLE_REFRESH_INTERVAL", None),
    ],
)
def test_harmless_forms_are_accepted(good, name, value):
    configure(good, **{name: value})
    assert check_settings() == []
    assert getattr(smartcar_settings, name) == value


def test_a_secret_of_the_wrong_type_is_not_echoed(good):
    configure(good, CLIENT_SECRET=b"bytes-secret-value", MANAGEMENT_TOKEN=12345678)
    messages = check_settings()
    assert ids(messages) == ["django_smartcar.E010", "django_smartcar.E010"]
    text = " ".join(message.msg + message.hint for message in messages)
    assert "bytes-secret-value" not in text and "12345678" not in text


def test_smartcar_that_is_not_a_dict_is_an_error(good):
    good.SMARTCAR = [("CLIENT_ID", "id")]
    assert ids(check_settings()) == ["django_smartcar.E010"]


@pytest.mark.parametrize(
    "value, problem",
    [("http://user:origin-secret@127.0.0.1:9", "credentials"), ("api.smartcar.com", "not an absolute")],
)
def test_an_origin_with_credentials_or_without_scheme_is_an_error(good, value, problem):
    configure(good, API_ORIGIN=value)
    (message,) = check_settings()
    assert message.id == "django_smartcar.E011"
    assert problem in message.msg
    assert "origin-secret" not in message.msg + message.hint


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


def broker_conf(url: str, **transport_options):
    from celery import Celery

    app = Celery("visibility-check", set_as_current=False)
    app.conf.broker_url = url
    app.conf.broker_transport_options = transport_options
    return app.conf


@pytest.mark.parametrize(
    ("url", "options", "expected"),
    [
        ("redis://127.0.0.1:6379/0", {}, []),  # Redis' default hour
        ("redis://127.0.0.1:6379/0", {"visibility_timeout": 60}, ["django_smartcar.W005"]),
        ("rediss://127.0.0.1:6379/0", {"visibility_timeout": 125}, []),  # 80 s countdown + 25 s + 20 s
        ("sqs://", {"visibility_timeout": 30}, ["django_smartcar.W005"]),
        ("sqs://", {}, []),
        ("amqp://guest@127.0.0.1//", {"visibility_timeout": 1}, []),  # RabbitMQ redelivers on disconnect
        ("filesystem://", {}, []),
    ],
)
def test_a_broker_visibility_timeout_shorter_than_a_rotation_task_is_a_warning(
    good, monkeypatch, url, options, expected
):
    from django_smartcar.checks import visibility_timeout_warnings

    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # Celery prefers it to the configured URL

    assert ids(visibility_timeout_warnings(broker_conf(url, **options))) == expected


def test_the_visibility_bound_follows_the_retry_settings(good):
    from django_smartcar.checks import visibility_timeout_warnings

    configure(good, RETRY_BACKOFF=60, TASK_MAX_RETRIES=7)  # a 3840 s countdown outlasts Redis' default hour
    (warning,) = visibility_timeout_warnings(broker_conf("redis://127.0.0.1:6379/0"))
    assert warning.id == "django_smartcar.W005" and "3885 s" in warning.msg and warning.hint


def test_the_visibility_bound_follows_the_token_time_out(good):
    from django_smartcar.checks import visibility_timeout_warnings

    configure(good, TIMEOUTS={"token": 40})  # 80 s countdown + 25 s + 40 s
    (warning,) = visibility_timeout_warnings(broker_conf("redis://127.0.0.1:6379/0", visibility_timeout=125))
    assert "145 s" in warning.msg


def test_the_visibility_check_is_registered_with_django(good):
    from celery import current_app

    assert "django_smartcar.W005" not in ids(checks.run_checks())
    conf = current_app.conf
    previous = conf.broker_url, conf.broker_transport_options
    conf.broker_url, conf.broker_transport_options = "redis://127.0.0.1:6379/0", {"visibility_timeout": 10}
    try:
        assert "django_smartcar.W005" in ids(checks.run_checks())
    finally:
        conf.broker_url, conf.broker_transport_options = previous


@pytest.mark.parametrize("login_url", ["admin:login", "/admin/login/", "https://sso.example.com/login"])
def test_a_login_url_of_this_site_or_another_host_passes(good, login_url):
    good.LOGIN_URL = login_url
    assert check_settings() == []


@pytest.mark.parametrize("login_url", ["/accounts/login/", "login", "/nowhere/"])
def test_a_login_url_that_is_not_a_page_of_this_site_is_a_warning(good, login_url):
    # Django's default, /accounts/login/, is a 404 on a fresh startproject site.
    good.LOGIN_URL = login_url
    (warning,) = check_settings()
    assert warning.id == "django_smartcar.W007" and warning.level == checks.WARNING
    assert repr(login_url) in warning.msg and "LOGIN_URL" in warning.hint


@pytest.mark.parametrize(
    "success_url", ["django_smartcar:connections", "/smartcar/", "/admin/", "https://example.com/garage/"]
)
def test_a_success_url_of_this_site_passes(good, success_url):
    configure(good, CONNECT_SUCCESS_URL=success_url)
    assert check_settings() == []


@pytest.mark.parametrize("success_url", ["/", "garage:dashboard", "/no/such/page/"])
def test_a_success_url_that_is_not_a_page_of_this_site_is_a_warning(good, success_url):
    configure(good, CONNECT_SUCCESS_URL=success_url)
    (warning,) = check_settings()
    assert warning.id == "django_smartcar.W008" and warning.level == checks.WARNING
    assert repr(success_url) in warning.msg and "django_smartcar:connections" in warning.hint


def test_the_default_success_url_is_the_apps_own_page(good):
    assert smartcar_settings.CONNECT_SUCCESS_URL == "django_smartcar:connections"
    assert check_settings() == []
