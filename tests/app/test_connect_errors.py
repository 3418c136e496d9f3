"""Every Connect error code ends on a clear page, and re-authentication brings a reauth_required account back,
through the app's views against the live simulator's Connect."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest

from django_smartcar.models import SmartcarAccount, Vehicle
from django_smartcar.simulator.testing import complete_connect

from .conftest import DRIVER, connect_through_views, return_to_callback, start_connect


@pytest.mark.parametrize(
    ("email", "status", "message"),
    [
        ("smartcar@no-vehicles.com", 200, "has no vehicle in it"),
        ("smartcar@invalid-subscription.com", 200, "subscription is not active"),
        ("smartcar@server-error.com", 502, "Smartcar had a problem"),
        ("smartcar@configuration-error.com", 502, "Smartcar set-up has a problem"),
    ],
)
def test_each_connect_error_shows_its_own_message(smartcar, browser, email, status, message):
    response = connect_through_views(browser, email=email, make="TESLA", next="/garage/")

    assert response.status_code == status
    text = response.content.decode()
    assert message in text and "Smartcar Connect reported an error" not in text
    assert ('href="/garage/"' in text) is (status == 200)
    assert not SmartcarAccount.objects.exists() and not Vehicle.objects.exists()


def test_an_incompatible_vehicle_is_named_on_the_page(smartcar, browser):
    response = connect_through_views(browser, email="smartcar@vehicle-incompatible.com", make="TESLA")

    assert response.status_code == 200
    text = response.content.decode()
    assert "cannot be connected" in text and "VIN 0SCAUDI012FE3B132" in text and "AUDI" in text


def test_a_configuration_error_is_logged_for_the_operator(smartcar, browser, caplog):
    with caplog.at_level(logging.INFO, logger="django_smartcar.services.connect"):
        connect_through_views(browser, email="smartcar@configuration-error.com", make="TESLA")

    assert [record.levelno for record in caplog.records if "configuration_error" in record.getMessage()] == [
        logging.ERROR
    ]


def test_reauthentication_makes_a_reauth_required_account_active_again(account, browser):
    SmartcarAccount.objects.filter(pk=account.pk).update(
        status=SmartcarAccount.Status.REAUTH_REQUIRED, consecutive_failures=2, last_refresh_error="refused"
    )
    vehicle = account.vehicles.first()
    link = f"/smartcar/vehicles/{vehicle.pk}/reauthenticate/?next=/smartcar/"
    assert link in browser.get("/smartcar/").content.decode()

    reauth_url = browser.get(link)["Location"]
    query = parse_qs(urlsplit(reauth_url).query)
    assert urlsplit(reauth_url).path.endswith("/oauth/reauthenticate")
    assert query["response_type"] == ["vehicle_id"] and query["vehicle_id"] == [vehicle.smartcar_id]
    response = return_to_callback(browser, complete_connect(reauth_url, email=DRIVER))

    assert response.status_code == 302 and response["Location"] == "/smartcar/"
    account.refresh_from_db()
    assert account.status == SmartcarAccount.Status.ACTIVE
    assert (account.consecutive_failures, account.last_refresh_error) == (0, "")
    assert "/reauthenticate/" not in browser.get("/smartcar/").content.decode()


def test_a_reauthentication_callback_for_someone_elses_vehicle_changes_nothing(account, browser):
    SmartcarAccount.objects.filter(pk=account.pk).update(status=SmartcarAccount.Status.REAUTH_REQUIRED)
    state = parse_qs(urlsplit(start_connect(browser)).query)["state"][0]

    response = browser.get("/smartcar/callback/", {"vehicle_id": "not-a-vehicle-of-mine", "state": state})

    assert response.status_code == 400 and b"a vehicle you have not connected" in response.content
    account.refresh_from_db()
    assert account.status == SmartcarAccount.Status.REAUTH_REQUIRED
