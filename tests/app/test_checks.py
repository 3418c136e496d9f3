"""System checks report each configuration mistake with its stable id."""

import pytest
from django.core import checks

from django_smartcar.checks import check_settings, check_stored_tokens_decrypt
from django_smartcar.models import SmartcarAccount

GOOD_KEY = "uo-U2VotAXZM5w9kAalyuM5E4sT2l2kW4L7yn6BCCss="


def ids(messages):
    return sorted(message.id for message in messages)


@pytest.fixture
def good(settings):
    settings.DEBUG = True
    settings.SMARTCAR = {
        "CLIENT_ID": "id",
        "CLIENT_SECRET": "secret",
        "ENCRYPTION_KEYS": [GOOD_KEY],
        "MODE": "simulated",
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
        ("rediss://127.0.0.1:6379/0", {"visibility_timeout": 115}, []),  # 80 s countdown + 25 s + 10 s
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
    assert warning.id == "django_smartcar.W005" and "3875 s" in warning.msg and warning.hint


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
