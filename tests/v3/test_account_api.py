"""The seam's V3 side against the live simulator over HTTP: a V3 account's vehicles synced from /v3/connections,
read by signals (ONE request per vehicle), sent commands, disconnected and subscribed through API V3, with the
same failure rules as v2."""

from __future__ import annotations

import pytest
from django.utils import timezone

from django_smartcar import client
from django_smartcar.models import SmartcarAccount, Vehicle, VehicleCommand, VehicleSignal
from django_smartcar.services import commands
from django_smartcar.services import connect as connect_service
from django_smartcar.services.api_v2 import vehicle_client
from django_smartcar.services.clients import account_api
from django_smartcar.services.vehicles import is_refresh_transient, refresh_vehicle_data, sync_vehicles
from django_smartcar.simulator import faults, webhooks
from django_smartcar.simulator.models import Connection, SimulatedVehicle, WebhookSubscription
from django_smartcar.simulator.traffic import reset as reset_counts

from .conftest import DRIVER, approve_driver, iam_requests, simulator_counts, v2_access_token

WEBHOOK_ID = "v3-seam-webhook"


def connected(account: SmartcarAccount) -> list[Vehicle]:
    return list(account.vehicles.filter(is_connected=True).order_by("pk"))


def test_sync_lists_the_users_vehicles_from_v3_connections_with_the_application_token(
    v3_account, smartcar_requests
):
    expected = {vehicle.id: vehicle for vehicle in SimulatedVehicle.objects.filter(user__email=DRIVER)}
    synced = {vehicle.smartcar_id: vehicle for vehicle in v3_account.vehicles.all()}
    assert synced.keys() == expected.keys() and expected
    for smartcar_id, vehicle in synced.items():
        simulated = expected[smartcar_id]
        assert (vehicle.make, vehicle.model, vehicle.year) == (
            simulated.make,
            simulated.model,
            simulated.year,
        )
        assert vehicle.is_connected and "read_odometer" in vehicle.permissions
    # Nothing of v2 was asked (no token of the account's, no /vehicles), and no billed read to list them.
    assert simulator_counts() == iam_requests() + simulator_counts("GET", "/v3/connections")
    assert simulator_counts("GET", "/v3/connections") == 1

    # A connection removed at Smartcar: the next sync disconnects its vehicle here.
    gone = SimulatedVehicle.objects.get(pk=connected(v3_account)[0].smartcar_id)
    Connection.objects.filter(vehicle=gone).delete()
    result = sync_vehicles(v3_account)
    assert [vehicle.smartcar_id for vehicle in result.disconnected] == [gone.pk]


def test_a_refresh_reads_every_signal_in_one_request_per_vehicle_and_stores_them(v3_account):
    reset_counts()
    vehicles = connected(v3_account)
    results = [refresh_vehicle_data(vehicle) for vehicle in vehicles]

    for vehicle, result in zip(vehicles, results, strict=True):
        # ONE request per vehicle for everything it has, whatever the number of data groups read.
        assert simulator_counts("GET", f"/v3/vehicles/{vehicle.smartcar_id}/signals") == 1
        assert len(result.read) > 3 and not result.errors
        vehicle.refresh_from_db()
        simulated = SimulatedVehicle.objects.get(pk=vehicle.smartcar_id)
        assert vehicle.vin == simulated.vin  # from the vehicleidentification-vin signal
        assert vehicle.odometer_km == pytest.approx(simulated.odometer_km, abs=1)
        assert vehicle.is_locked == simulated.is_locked
        assert vehicle.data_refreshed_at is not None
        stored = set(VehicleSignal.objects.filter(vehicle=vehicle).values_list("code", flat=True))
        # Every signal the car reported is kept, those without a typed field too.
        assert {"odometer-traveleddistance", "closure-islocked", "vehicleidentification-vin"} <= stored
        assert len(stored) > len(result.read)
    assert simulator_counts() == len(vehicles)  # the application token was already held: no IAM request


def test_what_a_car_cannot_give_is_remembered_from_its_signals(v3_account):
    fuel_car = next(
        v for v in connected(v3_account) if not SimulatedVehicle.objects.get(pk=v.smartcar_id).is_electric
    )
    result = refresh_vehicle_data(fuel_car)
    # VEHICLE_NOT_CAPABLE signals of the battery: no failure, not asked again for a while (the v2 rule).
    assert "battery" in result.not_capable and not result.errors
    fuel_car.refresh_from_db()
    assert "battery" in fuel_car.not_capable and "/battery" not in refresh_vehicle_data(fuel_car).read


def test_a_signal_refused_for_its_permission_is_a_failure_of_its_data_point_only(v3_account):
    vehicle = connected(v3_account)[0]
    assert "read_tires" not in vehicle.permissions  # not granted at the simulator either
    Vehicle.objects.filter(pk=vehicle.pk).update(permissions=[*vehicle.permissions, "read_tires"])
    vehicle.refresh_from_db()

    result = refresh_vehicle_data(vehicle)

    # The wheel-tires signal's PERMISSION error, judged as a v2 batch item's 403 would be.
    assert isinstance(result.errors["/tires/pressure"], client.PermissionException)
    assert result.failures() == [("tire_pressure", "permission not granted")]
    assert not result.failed and "odometer" in result.read


def test_a_sleeping_car_fails_the_read_as_a_state_the_refresh_task_retries(v3_account):
    vehicle = connected(v3_account)[0]
    faults.inject("asleep", vehicle=vehicle.smartcar_id)

    with pytest.raises(client.VehicleStateException) as caught:
        refresh_vehicle_data(vehicle)

    assert caught.value.code == "ASLEEP" and is_refresh_transient(caught.value)


def test_an_account_that_must_reconnect_is_refused_before_anything_is_sent(v3_account):
    vehicle = connected(v3_account)[0]
    SmartcarAccount.objects.filter(pk=v3_account.pk).update(status=SmartcarAccount.Status.REAUTH_REQUIRED)
    vehicle.account.refresh_from_db()
    reset_counts()

    command = commands.send_command(vehicle, "lock")

    assert command.status == VehicleCommand.Status.FAILED and command.error_type == "REAUTHENTICATE"
    assert simulator_counts() == 0


def test_commands_go_through_v3_and_show_in_v2s_lock_status(v3_smartcar, v3_account):
    vehicle = connected(v3_account)[0]
    v2 = vehicle_client(vehicle.smartcar_id, v2_access_token(v3_smartcar, approve_driver(v3_smartcar)))
    reset_counts()

    unlocked = commands.send_command(vehicle, "unlock")
    assert unlocked.status == VehicleCommand.Status.SUCCEEDED, unlocked.error_message
    assert v2.lock_status().is_locked is False
    locked = commands.send_command(vehicle, "lock")
    assert locked.status == VehicleCommand.Status.SUCCEEDED and locked.smartcar_request_id
    assert v2.lock_status().is_locked is True
    assert simulator_counts("POST", f"/v3/vehicles/{vehicle.smartcar_id}/commands/security/unlock") == 1
    assert simulator_counts("POST", f"/v3/vehicles/{vehicle.smartcar_id}/commands/security/lock") == 1


def test_a_refused_command_is_recorded_with_smartcars_type_and_code(v3_account):
    vehicle = connected(v3_account)[0]
    faults.inject("asleep", vehicle=vehicle.smartcar_id)

    command = commands.send_command(vehicle, "lock")

    assert command.status == VehicleCommand.Status.FAILED
    assert (command.error_type, command.error_code) == ("VEHICLE_STATE", "ASLEEP")
    assert command.smartcar_request_id


def test_without_api_credentials_a_command_fails_as_unavailable(v3_account, settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "API_CLIENT_SECRET": None}
    command = commands.send_command(connected(v3_account)[0], "lock")
    assert (command.status, command.error_type, command.error_code) == (
        VehicleCommand.Status.FAILED,
        "UNAVAILABLE",
        "api_credentials",
    )


def test_disconnect_removes_the_connection_through_the_connections_api(v3_account):
    vehicle, other = connected(v3_account)[:2]

    connect_service.disconnect_vehicle(vehicle)

    vehicle.refresh_from_db()
    assert not vehicle.is_connected and vehicle.disconnected_at is not None
    assert not Connection.objects.filter(vehicle_id=vehicle.smartcar_id).exists()
    assert Connection.objects.filter(vehicle_id=other.smartcar_id).exists()  # the user's other cars stay
    assert simulator_counts("DELETE") == 1
    # Already gone at Smartcar: the seam says so, and the app marks it disconnected all the same.
    assert account_api(v3_account).disconnect(vehicle) is False


@pytest.fixture
def v3_webhook(v3_smartcar, settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "WEBHOOK_ID": WEBHOOK_ID}
    return webhooks.register_webhook(
        v3_smartcar.application, "https://example.com/hook", webhook_id=WEBHOOK_ID, verify=False
    )


def test_vehicles_are_subscribed_and_unsubscribed_through_the_v3_management_api(
    v3_webhook, smartcar_requests, v3_account
):
    subscriptions = WebhookSubscription.objects.filter(webhook=v3_webhook)
    vehicles = connected(v3_account)
    # Subscribed on connect, for the account's Smartcar user (v4 events name them in data.user.id).
    assert sorted(subscriptions.values_list("vehicle_id", flat=True)) == sorted(
        v.smartcar_id for v in vehicles
    )
    assert set(subscriptions.values_list("user_id", flat=True)) == {v3_account.smartcar_user_id}
    assert smartcar_requests.count(("POST", "/v3/subscriptions")) == len(vehicles)

    # Subscribing again is no error (409: it exists).
    account_api(v3_account).subscribe(vehicles[0], WEBHOOK_ID)

    connect_service.disconnect_vehicle(vehicles[0])
    deleted = subscriptions.model.objects.filter(vehicle_id=vehicles[0].smartcar_id)
    assert not deleted.exists() and any(
        method == "DELETE" and path.startswith("/v3/subscriptions/") for method, path in smartcar_requests
    )
    assert subscriptions.count() == len(vehicles) - 1


def test_the_seam_picks_the_api_by_account(v3_account, user):
    v2_account = SmartcarAccount(owner=user, smartcar_user_id="v2-user", connected_at=timezone.now())
    assert type(account_api(v3_account)).__name__ == "V3AccountApi"
    assert type(account_api(v2_account)).__name__ == "V2AccountApi"
