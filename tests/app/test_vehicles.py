"""Vehicle sync and data refresh against the live simulator."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from django_smartcar import client
from django_smartcar.models import Vehicle
from django_smartcar.services.vehicles import (
    DATA_GROUPS_BY_PATH,
    DataPoint,
    apply_vehicle_data,
    refresh_vehicle_data,
    refreshable_paths,
    sync_vehicles,
)
from django_smartcar.simulator import faults, grants, seeding
from django_smartcar.simulator.models import SimulatedVehicle
from django_smartcar.simulator.vehicle_state import live_state

from .conftest import DRIVER


def test_sync_adds_new_vehicles_and_disconnects_vanished_ones(account, smartcar, record_signal):
    connected = record_signal("vehicle_connected")
    disconnected = record_signal("vehicle_disconnected")
    gone = account.vehicles.first()
    grants.disconnect(smartcar.application, SimulatedVehicle.objects.filter(pk=gone.smartcar_id))
    new = seeding.create_vehicle(seeding.create_user(DRIVER), make="TESLA")
    grant = smartcar.application.grants.latest("id")
    grant.vehicles.add(new)

    result = sync_vehicles(account)

    assert [v.smartcar_id for v in result.created] == [new.id]
    assert [v.pk for v in result.disconnected] == [gone.pk]
    gone.refresh_from_db()
    assert not gone.is_connected and gone.disconnected_at
    assert Vehicle.objects.get(smartcar_id=new.id).vin == new.vin
    assert [c["vehicle"].smartcar_id for c in connected.calls] == [new.id]
    assert [c["vehicle"].pk for c in disconnected.calls] == [gone.pk]


def test_sync_pages_through_many_vehicles(account, smartcar):
    grant = smartcar.application.grants.latest("id")
    grant.vehicles.add(*seeding.seed_vehicles(30, seed=7, email=DRIVER))
    sync_vehicles(account)
    assert account.vehicles.filter(is_connected=True).count() == grant.vehicles.count() > 30


def test_refresh_fetches_every_permitted_data_point_in_one_request(account, smartcar_requests, record_signal):
    refreshed = record_signal("vehicle_data_refreshed")
    vehicle = account.vehicles.first()

    result = refresh_vehicle_data(vehicle)

    batch_calls = [path for method, path in smartcar_requests if path.endswith("/batch")]
    assert batch_calls == [f"/v2.0/vehicles/{vehicle.smartcar_id}/batch"]
    assert [path for method, path in smartcar_requests if "/oauth/" not in path] == batch_calls
    # What the car lacks (an EV has no fuel tank, a fuel car no EV battery) is no failure.
    assert not result.errors
    powertrain_paths = ("/fuel", "/battery", "/charge", "/engine/oil")
    assert set(result.not_capable) <= {DATA_GROUPS_BY_PATH[path].name for path in powertrain_paths}
    vehicle.refresh_from_db()
    state = live_state(SimulatedVehicle.objects.get(pk=vehicle.smartcar_id), timezone.now())
    assert abs(vehicle.odometer_km - state.odometer_km) < 5
    assert vehicle.latitude is not None and vehicle.is_locked is not None
    assert vehicle.lock_status and vehicle.odometer_age and vehicle.data_refreshed_at
    # Every permitted data point was either stored or learnt to be beyond the car (and is no longer asked for).
    asked = {DATA_GROUPS_BY_PATH[path].name for path in refreshable_paths(vehicle)}
    assert set(result.updated) == asked and not asked & set(result.not_capable)
    assert "odometer" in result.updated and refreshed.calls[0]["updated"] == result.updated


def test_an_error_on_one_data_point_keeps_the_others(account):
    vehicle = account.vehicles.first()
    Vehicle.objects.filter(pk=vehicle.pk).update(
        permissions=[*vehicle.permissions, "read_battery", "read_fuel"]
    )
    vehicle.refresh_from_db()

    result = refresh_vehicle_data(vehicle)

    # A car has either a fuel tank or a battery: the other is not capable (no failure), the rest is stored.
    assert set(result.not_capable) & {"fuel", "battery"} and not result.errors
    assert "odometer" in result.updated


def test_a_sleeping_vehicle_is_reported_not_raised(account):
    vehicle = account.vehicles.first()
    faults.inject("asleep", vehicle=vehicle.smartcar_id)
    result = refresh_vehicle_data(vehicle)
    # The VIN is static and still answered; nothing the car must wake up for is stored.
    assert set(result.updated) <= {"vin"}
    assert "/odometer" in result.errors
    assert all(isinstance(exc, client.StateException) for exc in result.errors.values())


def test_older_data_never_overwrites_newer(account):
    vehicle = account.vehicles.first()
    now = timezone.now()
    apply_vehicle_data(vehicle, [DataPoint("/odometer", {"distance": 1200.0}, now)])

    updated = apply_vehicle_data(
        vehicle, [DataPoint("/odometer", {"distance": 1100.0}, now - timedelta(minutes=5))]
    )

    assert updated == []
    vehicle.refresh_from_db()
    assert vehicle.odometer_km == 1200.0 and vehicle.odometer_age == now
    assert apply_vehicle_data(
        vehicle, [DataPoint("/odometer", {"distance": 1300.0}, now + timedelta(seconds=1))]
    ) == ["odometer"]
    assert vehicle.odometer_km == 1300.0
