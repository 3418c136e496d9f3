"""What the app makes of Smartcar's errors as Smartcar really answers them (issue 16): RESOURCE_NOT_FOUND is a
developer error, a 400 VALIDATION for a vehicle id Smartcar no longer knows asks for a reconnect, and the token
errors that quote the refused token never reach logs, stored errors or signals."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from django_smartcar import client
from django_smartcar.models import SmartcarAccount, VehicleCommand
from django_smartcar.services.clients import get_auth_client, get_transport
from django_smartcar.services.commands import send_command
from django_smartcar.services.connect import disconnect_vehicle
from django_smartcar.services.tokens import ReauthenticationRequired, get_access_token
from django_smartcar.services.vehicles import refresh_vehicle_data
from django_smartcar.simulator import clock
from django_smartcar.simulator.models import SimulatedVehicle

API = "/api/smartcar"
Status = SmartcarAccount.Status


@pytest.fixture
def misrouted(smartcar, settings):
    """The API origin points at a path Smartcar does not have, as a wrong origin setting would."""
    settings.SMARTCAR = {**settings.SMARTCAR, "API_ORIGIN": f"{smartcar.base_url}/wrong-prefix"}


def errors_logged(caplog) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name.startswith("django_smartcar") and record.levelno >= logging.ERROR
    ]


def test_resource_not_found_is_a_developer_error_not_a_reconnect(account, browser, misrouted, caplog):
    vehicle = account.vehicles.first()

    with pytest.raises(client.ResourceNotFoundException) as caught:
        refresh_vehicle_data(vehicle)
    assert caught.value.code == "PATH"
    assert errors_logged(caplog), "a developer error is logged as an error"

    caplog.clear()
    response = browser.post(f"{API}/vehicles/{vehicle.pk}/refresh/?async=0")
    assert response.status_code == 502
    assert response.json()["type"] == "RESOURCE_NOT_FOUND" and "reconnect_url" not in response.json()
    assert errors_logged(caplog)

    command = send_command(vehicle, "lock")
    assert command.status == VehicleCommand.Status.FAILED and command.error_type == "RESOURCE_NOT_FOUND"
    account.refresh_from_db()
    assert account.status == Status.ACTIVE  # nothing for the owner to do


def test_a_vehicle_smartcar_no_longer_knows_is_handled(account, browser, smartcar, caplog):
    vehicle = account.vehicles.first()
    client.delete_connections(
        smartcar.management_token, vehicle_id=vehicle.smartcar_id, transport=get_transport()
    )

    with pytest.raises(client.ValidationException) as caught:
        refresh_vehicle_data(vehicle)
    assert caught.value.status_code == 400 and caught.value.code is None
    assert caught.value.resolution == {"type": None, "url": None}

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/refresh/?async=0")
    assert response.status_code == 409
    assert response.json()["type"] == "VALIDATION" and response.json()["reconnect_url"]
    assert errors_logged(caplog) == []  # not a bug here: the owner or Smartcar ended the connection

    disconnect_vehicle(vehicle)  # Smartcar's 400 means it is disconnected already
    vehicle.refresh_from_db()
    assert not vehicle.is_connected
    account.refresh_from_db()
    assert account.status == Status.ACTIVE
    assert SimulatedVehicle.objects.filter(pk=vehicle.smartcar_id).exists()


def test_refused_tokens_quoted_by_smartcar_reach_no_log_stored_error_or_signal(
    smartcar, account, caplog, record_signal, one_minute_refresh_grace
):
    caplog.set_level(logging.DEBUG)
    reauth = record_signal("reauth_required")
    dead = account.refresh_token
    get_auth_client().exchange_refresh_token(dead)  # used elsewhere...
    clock.advance(120)  # ...and refused from now on: "Invalid refresh_token: <token>."
    SmartcarAccount.objects.filter(pk=account.pk).update(
        access_expires_at=timezone.now() - timedelta(seconds=1)
    )
    stored = SmartcarAccount.objects.get(pk=account.pk)

    with pytest.raises(ReauthenticationRequired):
        get_access_token(stored)

    stored.refresh_from_db()
    assert stored.status == Status.REAUTH_REQUIRED
    assert stored.last_refresh_error == "Invalid refresh_token: ***."
    assert [call["reason"] for call in reauth.calls] == ["Invalid refresh_token: ***."]
    assert dead not in caplog.text
