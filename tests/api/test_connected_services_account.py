"""CONNECTED_SERVICES_ACCOUNT over HTTP: the simulator's fault answers it as Smartcar does (400, the documented
resolution and docURL), and the app tells the owner to fix their car maker account instead of reconnecting,
except for a code whose resolution is REAUTHENTICATE. Against the live simulator."""

from __future__ import annotations

import pytest

from django_smartcar import client
from django_smartcar.models import SmartcarAccount, VehicleCommand
from django_smartcar.services import commands
from django_smartcar.services.vehicles import refresh_vehicle_data
from django_smartcar.simulator import faults
from tests.api.conftest import API


def test_the_fault_answers_400_with_the_documented_resolution_doc_url_and_user_message(account):
    vehicle = account.vehicles.first()
    faults.inject("connected_services_account", vehicle=vehicle.smartcar_id, code="ACCOUNT_ISSUE")

    with pytest.raises(client.SmartcarException) as raised:
        refresh_vehicle_data(vehicle)

    error = raised.value
    assert (error.status_code, error.type, error.code) == (400, "CONNECTED_SERVICES_ACCOUNT", "ACCOUNT_ISSUE")
    assert error.resolution["type"] is None
    assert (
        error.doc_url
        == "https://smartcar.com/docs/errors/api-errors/connected-services-account-errors#account-issue"
    )
    assert error.suggested_user_message and "connected services" in error.suggested_user_message


@pytest.mark.parametrize("code", ["SUBSCRIPTION", "VIRTUAL_KEY_REQUIRED"])
def test_a_refresh_tells_the_owner_to_fix_their_car_maker_account_and_keeps_the_account(
    account, browser, code
):
    vehicle = account.vehicles.first()
    faults.inject("connected_services_account", vehicle=vehicle.smartcar_id, code=code)

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/refresh/?async=0")

    body = response.json()
    assert (body["type"], body["code"]) == ("CONNECTED_SERVICES_ACCOUNT", code)
    assert body["detail"].startswith(
        f"The owner must fix their {vehicle.display_make} connected-services account: {code}."
    )
    account.refresh_from_db()
    assert account.status == SmartcarAccount.Status.ACTIVE
    vehicle.refresh_from_db()
    assert f"CONNECTED_SERVICES_ACCOUNT:{code}" in vehicle.vehicle_errors

    faults.clear()
    assert browser.post(f"{API}/vehicles/{vehicle.pk}/refresh/?async=0").status_code == 200
    vehicle.refresh_from_db()
    assert not vehicle.vehicle_errors


def test_a_command_failure_names_the_owners_car_maker_account_and_shows_smartcars_user_message(account):
    vehicle = account.vehicles.first()
    faults.inject("connected_services_account", vehicle=vehicle.smartcar_id, code="ACCOUNT_ISSUE")

    command = commands.send_command(vehicle, VehicleCommand.Action.LOCK)

    assert command.status == VehicleCommand.Status.FAILED
    assert command.error_message.startswith(
        f"The owner must fix their {vehicle.display_make} connected-services account: ACCOUNT_ISSUE. "
    )
    assert "Please log into your connected services app" in command.error_message
    account.refresh_from_db()
    assert account.status == SmartcarAccount.Status.ACTIVE


# PERMISSION (the owner revoked Smartcar's access at the car maker) is REAUTHENTICATE too, as its example answer
# shows [err, connected-services-account-errors#permission].
@pytest.mark.parametrize("code", ["AUTHENTICATION_FAILED", "PERMISSION"])
def test_a_code_whose_resolution_is_reauthenticate_asks_for_reauthentication(account, code):
    vehicle = account.vehicles.first()
    faults.inject("connected_services_account", vehicle=vehicle.smartcar_id, code=code)

    with pytest.raises(client.SmartcarException) as raised:
        refresh_vehicle_data(vehicle)

    assert raised.value.resolution["type"] == "REAUTHENTICATE"
    if code == "AUTHENTICATION_FAILED":
        # The client keeps Smartcar's partial re-authentication URL for the car.
        assert f"vehicle_id={vehicle.smartcar_id}" in raised.value.resolution["url"]
    account.refresh_from_db()
    assert account.status == SmartcarAccount.Status.REAUTH_REQUIRED


def test_an_unknown_code_is_refused_by_the_fault(account):
    with pytest.raises(ValueError, match="code must be one of"):
        faults.inject("connected_services_account", code="NOT_A_CODE")


def test_a_queued_refresh_records_the_owners_message_on_its_row(account, browser, worker):
    vehicle = account.vehicles.first()
    faults.inject("connected_services_account", vehicle=vehicle.smartcar_id, code="VIRTUAL_KEY_REQUIRED")

    queued = browser.post(f"{API}/vehicles/{vehicle.pk}/refresh/")
    assert queued.status_code == 202
    worker(lift_faults=False)

    refresh = browser.get(queued.headers["Location"]).json()
    assert refresh["status"] == "failed"
    # Smartcar's suggested user message for the code follows, as the reference documents one for it.
    assert refresh["error"]["detail"] == (
        f"The owner must fix their {vehicle.display_make} connected-services account: VIRTUAL_KEY_REQUIRED. "
        "In order to perform this request you\u2019ll need to add a Third-Party Virtual key to your vehicle. "
        "Please open this link on the phone with your Tesla App to complete this step."
    )
    account.refresh_from_db()
    assert account.status == SmartcarAccount.Status.ACTIVE


@pytest.mark.parametrize("path", ["refresh/", "lock/"])
def test_a_failure_that_asks_to_reauthenticate_offers_the_reconnect_url_like_authentication(
    account, browser, path
):
    """One rule for "the owner must reconnect": the API's reconnect_url follows ``tokens.needs_reauthentication``
    (which moved the account to reauth_required), not a list of its own that left AUTHENTICATION_FAILED out."""
    vehicle = account.vehicles.first()
    faults.inject("connected_services_account", vehicle=vehicle.smartcar_id, code="AUTHENTICATION_FAILED")

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/{path}?async=0")

    body = response.json()
    assert (response.status_code, body["type"], body["code"]) == (
        409,
        "CONNECTED_SERVICES_ACCOUNT",
        "AUTHENTICATION_FAILED",
    )
    assert body["reconnect_url"].endswith("/smartcar/connect/")
    account.refresh_from_db()
    assert account.status == SmartcarAccount.Status.REAUTH_REQUIRED


def test_a_car_maker_account_issue_offers_no_reconnect_url(account, browser):
    vehicle = account.vehicles.first()
    faults.inject("connected_services_account", vehicle=vehicle.smartcar_id, code="ACCOUNT_ISSUE")

    body = browser.post(f"{API}/vehicles/{vehicle.pk}/lock/?async=0").json()

    assert body["code"] == "ACCOUNT_ISSUE"
    assert "reconnect_url" not in body
