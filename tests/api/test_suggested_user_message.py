"""suggestedUserMessage: the simulator sends the one Smartcar documents (VEHICLE_STATE/ASLEEP's), and the app
shows it to the owner (API failure details, command failures) instead of the developer description."""

from __future__ import annotations

from django_smartcar.models import VehicleCommand
from django_smartcar.services import commands
from django_smartcar.simulator import faults
from tests.api.conftest import API

ASLEEP = "Your vehicle is in a sleep state. This request was not sent to preserve battery life."


def test_a_refresh_of_a_sleeping_car_answers_smartcars_suggested_user_message(account, browser):
    vehicle = account.vehicles.first()
    faults.inject("asleep", vehicle=vehicle.smartcar_id)

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/refresh/?async=0")

    assert response.status_code == 409
    body = response.json()
    assert (body["type"], body["code"], body["detail"]) == ("VEHICLE_STATE", "ASLEEP", ASLEEP)


def test_a_command_to_a_sleeping_car_records_smartcars_suggested_user_message(account):
    vehicle = account.vehicles.first()
    faults.inject("asleep", vehicle=vehicle.smartcar_id)

    command = commands.send_command(vehicle, VehicleCommand.Action.UNLOCK)

    assert command.status == VehicleCommand.Status.FAILED
    assert (command.error_type, command.error_code, command.error_message) == (
        "VEHICLE_STATE",
        "ASLEEP",
        ASLEEP,
    )
