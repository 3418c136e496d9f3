"""The SMARTCAR settings dict: defaults, environment fallbacks, and values read at call time."""

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_smartcar.conf import DEFAULTS, ENV_FALLBACKS, SCHEMA, smartcar_settings, type_problem


def test_values_come_from_the_smartcar_dict(settings):
    settings.SMARTCAR = {"CLIENT_ID": "from-settings"}
    assert smartcar_settings.CLIENT_ID == "from-settings"


def test_missing_values_fall_back_to_the_environment_then_the_default(settings, monkeypatch):
    settings.SMARTCAR = {}
    monkeypatch.setenv("SMARTCAR_CLIENT_SECRET", "from-env")
    monkeypatch.setenv("SMARTCAR_ENCRYPTION_KEYS", "key-one, key-two")
    assert smartcar_settings.CLIENT_SECRET == "from-env"
    assert smartcar_settings.ENCRYPTION_KEYS == ["key-one", "key-two"]
    assert smartcar_settings.REFRESH_TOKEN_ROTATION_WINDOW == timedelta(days=10)
    assert smartcar_settings.SCOPE == DEFAULTS["SCOPE"]


def test_the_dict_wins_over_the_environment(settings, monkeypatch):
    monkeypatch.setenv("SMARTCAR_CLIENT_ID", "from-env")
    settings.SMARTCAR = {"CLIENT_ID": "from-settings"}
    assert smartcar_settings.CLIENT_ID == "from-settings"


def test_override_settings_is_followed_without_reloading(settings):
    settings.SMARTCAR = {"MODE": "test"}
    assert smartcar_settings.MODE == "test"
    settings.SMARTCAR = {"MODE": "live"}
    assert smartcar_settings.MODE == "live"


def test_unknown_setting_names_are_an_attribute_error():
    with pytest.raises(AttributeError, match="CLIENT_IDD"):
        smartcar_settings.CLIENT_IDD


def test_every_setting_declares_its_type_and_its_default_passes():
    assert sorted(DEFAULTS) == sorted(SCHEMA)
    assert {
        name: type_problem(name, value) for name, value in DEFAULTS.items() if type_problem(name, value)
    } == {}


def test_environment_values_are_converted_to_the_declared_type(settings, monkeypatch):
    # No numeric setting has an environment fallback yet; one added later is converted by its schema entry.
    settings.SMARTCAR = {}
    monkeypatch.setitem(ENV_FALLBACKS, "REQUEST_TIMEOUT", "SMARTCAR_REQUEST_TIMEOUT")
    monkeypatch.setitem(ENV_FALLBACKS, "ROTATION_JITTER", "SMARTCAR_ROTATION_JITTER")
    monkeypatch.setenv("SMARTCAR_REQUEST_TIMEOUT", "2.5")
    monkeypatch.setenv("SMARTCAR_ROTATION_JITTER", "3600")
    assert smartcar_settings.REQUEST_TIMEOUT == 2.5
    assert smartcar_settings.ROTATION_JITTER == timedelta(hours=1)

    monkeypatch.setenv("SMARTCAR_REQUEST_TIMEOUT", "ten")
    with pytest.raises(ImproperlyConfigured, match="SMARTCAR_REQUEST_TIMEOUT must be a number"):
        smartcar_settings.REQUEST_TIMEOUT


class TestTimeouts:
    """Each class of call's time-out: TIMEOUTS[class], else REQUEST_TIMEOUT when set, else the client's."""

    def test_defaults_fit_smartcar_when_nothing_is_set(self, settings):
        from django_smartcar.client import Timeouts
        from django_smartcar.services.clients import get_timeouts, get_transport

        settings.SMARTCAR = {}
        assert get_timeouts() == Timeouts(token=20, read=310, command=310, management=30)
        assert get_transport().timeouts == get_timeouts()

    def test_request_timeout_alone_still_sets_every_call(self, settings):
        from django_smartcar.client import Timeouts
        from django_smartcar.services.clients import get_timeouts

        settings.SMARTCAR = {"REQUEST_TIMEOUT": 10}
        assert get_timeouts() == Timeouts.every(10.0)

    def test_per_class_settings_win_over_the_fallback(self, settings):
        from django_smartcar.client import Timeouts
        from django_smartcar.services.clients import get_timeouts, get_transport

        settings.SMARTCAR = {"REQUEST_TIMEOUT": 15, "TIMEOUTS": {"read": 120, "token": [3.05, 10]}}
        expected = Timeouts(token=(3.05, 10.0), read=120.0, command=15.0, management=15.0)
        assert get_timeouts() == expected
        assert get_transport().timeouts == expected
