"""System checks report each configuration mistake with its stable id."""

from datetime import timedelta

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from django_smartcar.checks import (
    check_settings,
    check_stored_tokens_decrypt,
    check_v3_accounts_have_credentials,
)
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
        # API V3 (the default API_VERSION) needs the API credentials.
        "API_CLIENT_ID": "client_abc",
        "API_CLIENT_SECRET": "api-secret",
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
        ("ROTATION_CHUNK_SIZE", 0),
        ("ROTATION_CHUNK_SIZE", "200"),
        ("ROTATION_MAX_IN_FLIGHT", 0),
        ("ROTATION_MAX_IN_FLIGHT", 2.5),
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
        # 80 s countdown + a chunk: 200 accounts 50 at a time, 4 waves and one for the locked, 20 s each
        ("rediss://127.0.0.1:6379/0", {"visibility_timeout": 180}, []),
        ("rediss://127.0.0.1:6379/0", {"visibility_timeout": 179}, ["django_smartcar.W005"]),
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
    assert warning.id == "django_smartcar.W005" and "3940 s" in warning.msg and warning.hint


def test_the_visibility_bound_follows_the_token_time_out(good):
    from django_smartcar.checks import visibility_timeout_warnings

    configure(good, TIMEOUTS={"token": 40})  # 80 s countdown + 5 waves of 40 s
    (warning,) = visibility_timeout_warnings(broker_conf("redis://127.0.0.1:6379/0", visibility_timeout=125))
    assert "280 s" in warning.msg


def test_the_visibility_bound_follows_the_rotation_chunks(good):
    from django_smartcar.checks import visibility_timeout_warnings

    # 80 s countdown + one exchange repeated inside its window (25 s + 20 s): chunks of 10, all in flight at once
    configure(good, ROTATION_CHUNK_SIZE=10, ROTATION_MAX_IN_FLIGHT=10)
    assert visibility_timeout_warnings(broker_conf("redis://127.0.0.1:6379/0", visibility_timeout=125)) == []
    configure(good, ROTATION_CHUNK_SIZE=1000, ROTATION_MAX_IN_FLIGHT=10)  # 80 s + 101 waves of 20 s
    (warning,) = visibility_timeout_warnings(broker_conf("redis://127.0.0.1:6379/0", visibility_timeout=125))
    assert "2100 s" in warning.msg


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


# API V3: the version, the API credentials and the two client ids.


@pytest.mark.parametrize("version", ["2", "v3", "3.0", ""])
def test_an_unknown_api_version_is_an_error(good, version):
    configure(good, API_VERSION=version)
    (message,) = check_settings()
    assert message.id == "django_smartcar.E016"
    assert repr(version) in message.msg and '"3"' in message.hint and '"2.0"' in message.hint


@pytest.mark.parametrize("version", ["3", "2.0"])
def test_both_api_versions_pass(good, version):
    configure(good, API_VERSION=version)
    assert check_settings() == []


@pytest.mark.parametrize("missing", ["API_CLIENT_ID", "API_CLIENT_SECRET"])
def test_api_v3_without_its_api_credentials_is_an_error_that_names_them(good, missing):
    configure(good, API_VERSION="3", **{missing: None})
    (message,) = check_settings()
    assert message.id == "django_smartcar.E017"
    assert missing in message.msg
    assert "SMARTCAR_API_CLIENT_ID" in message.hint and '"2.0"' in message.hint
    assert "api-secret" not in message.msg + message.hint


def test_v2_sites_need_no_api_credentials(good):
    configure(good, API_VERSION="2.0", API_CLIENT_ID=None, API_CLIENT_SECRET=None)
    assert check_settings() == []


def test_api_credentials_from_the_environment_pass(good, monkeypatch):
    good.SMARTCAR = {k: v for k, v in good.SMARTCAR.items() if not k.startswith("API_CLIENT")}
    monkeypatch.setenv("SMARTCAR_API_CLIENT_ID", "client_from_env")
    monkeypatch.setenv("SMARTCAR_API_CLIENT_SECRET", "secret-from-env")
    assert check_settings() == []


def test_an_api_client_id_without_the_client_prefix_is_a_warning(good):
    configure(good, API_CLIENT_ID="5a8e2f0c-aaaa-bbbb-cccc-1234567890ab")
    (message,) = check_settings()
    assert message.id == "django_smartcar.W009" and message.level == checks.WARNING
    assert "'client_'" in message.msg and "dashboard" in message.hint


@pytest.mark.parametrize(
    "client_id, api_client_id",
    [("client_abc", "client_abc"), ("same-uuid", "same-uuid"), ("client_app", "client_abc")],
)
def test_swapped_or_identical_client_ids_are_a_warning(good, client_id, api_client_id):
    configure(good, CLIENT_ID=client_id, API_CLIENT_ID=api_client_id)
    (message,) = check_settings()
    assert message.id == "django_smartcar.W010" and message.level == checks.WARNING
    assert "Application ID" in message.msg and "Connect" in message.hint


@pytest.mark.parametrize("name", ["IAM_ORIGIN", "VEHICLE_API_V3_ORIGIN", "MANAGEMENT_API_V3_ORIGIN"])
@pytest.mark.parametrize(
    "value, problem",
    [
        ("https://user:origin-secret@vehicle.api.smartcar.com", "credentials"),
        ("vehicle.api.smartcar.com", "not an absolute"),
        ("ftp://vehicle.api.smartcar.com", "not an absolute"),
        ("https://vehicle.api.smartcar.com/v3", "adds itself"),
        ("http://127.0.0.1:8765/oauth2/", "adds itself"),
    ],
)
def test_v3_origins_are_checked_like_the_others(good, name, value, problem):
    configure(good, **{name: value})
    (message,) = check_settings()
    assert message.id == "django_smartcar.E011"
    assert name in message.msg and problem in message.msg
    assert "origin-secret" not in message.msg + message.hint
    assert "host only" in message.hint


def test_a_v3_origin_under_a_path_passes(good):
    # The simulator mounted in a site answers V3 under its own prefix.
    configure(
        good, VEHICLE_API_V3_ORIGIN="http://127.0.0.1:8000/simulator", IAM_ORIGIN="http://127.0.0.1:8765"
    )
    assert check_settings() == []


@pytest.mark.django_db
def test_v3_accounts_without_api_credentials_are_a_database_check_error(good, django_user_model):
    configure(good, API_VERSION="2.0", API_CLIENT_ID=None, API_CLIENT_SECRET=None)
    account = make_account(django_user_model, "ann")
    assert check_v3_accounts_have_credentials(databases=["default"]) == []

    # Once one account is on V3 (connected before the site went back to v2.0, or migrated), its vehicles are
    # reached with the application token only.
    SmartcarAccount.objects.filter(pk=account.pk).update(api_version=SmartcarAccount.ApiVersion.V3)
    (message,) = check_v3_accounts_have_credentials(databases=["default"])
    assert message.id == "django_smartcar.E018"
    assert "1 Smartcar account(s)" in message.msg and "API_CLIENT_ID" in message.msg
    assert "SMARTCAR_API_CLIENT_SECRET" in message.hint
    assert "django_smartcar.E018" in ids(checks.run_checks(databases=["default"]))

    # With the credentials, or once the account is disconnected, nothing is reported.
    configure(good, API_CLIENT_ID="client_abc", API_CLIENT_SECRET="api-secret")
    assert check_v3_accounts_have_credentials(databases=["default"]) == []
    configure(good, API_CLIENT_ID=None)
    SmartcarAccount.objects.filter(pk=account.pk).update(status=SmartcarAccount.Status.DISCONNECTED)
    assert check_v3_accounts_have_credentials(databases=["default"]) == []


@pytest.mark.django_db
def test_the_database_check_does_not_repeat_the_settings_error(good, django_user_model):
    account = make_account(django_user_model, "ann")
    SmartcarAccount.objects.filter(pk=account.pk).update(api_version=SmartcarAccount.ApiVersion.V3)
    configure(good, API_VERSION="3", API_CLIENT_SECRET="")
    assert check_v3_accounts_have_credentials(databases=["default"]) == []
    assert ids(check_settings()) == ["django_smartcar.E017"]
