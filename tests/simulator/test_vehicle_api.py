"""The Vehicle API through the project's client: every endpoint, both unit systems, batch, permissions,
errors, and a state that lives (commands change it, time moves it)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from django_smartcar.client import (
    AuthenticationException,
    PermissionException,
    ValidationException,
    Vehicle,
    VehicleNotCapableException,
    VehicleStateException,
    get_compatibility,
    get_user,
    get_vehicles,
    iter_vehicle_ids,
)
from django_smartcar.simulator import grants
from django_smartcar.simulator.models import Connection, SimulatedVehicle
from django_smartcar.simulator.seeding import create_vehicle
from django_smartcar.simulator.vehicle_state import live_state

from .conftest import connect

KM_PER_MILE = 1.609344


def electric(simulator) -> SimulatedVehicle:
    return next(vehicle for vehicle in simulator.vehicles if vehicle.is_electric)


def fuel_car(simulator) -> SimulatedVehicle:
    return next(vehicle for vehicle in simulator.vehicles if not vehicle.is_electric)


def both_units(connected, vehicle_id: str) -> tuple[Vehicle, Vehicle]:
    return connected.vehicle(vehicle_id, "metric"), connected.vehicle(vehicle_id, "imperial")


def test_seeded_vehicles_include_electric_and_fuel_cars(simulator):
    assert {vehicle.is_electric for vehicle in simulator.vehicles} == {True, False}


def test_identity_endpoints(simulator, connected):
    car = electric(simulator)
    vehicle = connected.vehicle(car.id)

    attributes = vehicle.attributes()
    assert (attributes.id, attributes.make, attributes.model, attributes.year) == (
        car.id,
        car.make,
        car.model,
        car.year,
    )
    assert vehicle.vin().vin == car.vin
    assert get_user(connected.access.access_token, transport=connected.transport).id == car.user_id


def test_odometer_and_location_in_both_unit_systems(simulator, connected, frozen_clock):
    car = fuel_car(simulator)
    metric, imperial = both_units(connected, car.id)
    state = live_state(car, frozen_clock())

    kilometres, miles = metric.odometer(), imperial.odometer()

    assert kilometres.distance == pytest.approx(state.odometer_km, abs=0.05)
    assert miles.distance == pytest.approx(state.odometer_km / KM_PER_MILE, abs=0.05)
    assert (kilometres.meta.unit_system, miles.meta.unit_system) == ("metric", "imperial")
    location = metric.location()
    assert (location.latitude, location.longitude) == (state.latitude, state.longitude)


def test_fuel_engine_oil_and_tires_in_both_unit_systems(simulator, connected, frozen_clock):
    car = fuel_car(simulator)
    metric, imperial = both_units(connected, car.id)
    liters = car.fuel_level * car.tank_capacity_liters

    litres_answer, gallons_answer = metric.fuel(), imperial.fuel()
    assert (
        litres_answer.percent_remaining
        == gallons_answer.percent_remaining
        == pytest.approx(car.fuel_level, abs=1e-3)
    )
    assert litres_answer.amount_remaining == pytest.approx(liters, abs=0.06)
    assert gallons_answer.amount_remaining == pytest.approx(liters * 0.264172, abs=0.06)
    assert gallons_answer.range == pytest.approx(litres_answer.range / KM_PER_MILE, abs=0.1)
    assert metric.engine_oil().life_remaining == car.oil_life
    kpa, psi = metric.tire_pressure(), imperial.tire_pressure()
    assert kpa.front_left == pytest.approx(car.tire_pressure_kpa["frontLeft"], abs=0.05)
    assert psi.back_right == pytest.approx(car.tire_pressure_kpa["backRight"] * 0.1450377, abs=0.05)


def test_battery_charge_and_capacity_in_both_unit_systems(simulator, connected, frozen_clock):
    car = electric(simulator)
    metric, imperial = both_units(connected, car.id)
    level = live_state(car, frozen_clock()).battery_level

    battery_km, battery_mi = metric.battery(), imperial.battery()
    assert battery_km.percent_remaining == pytest.approx(level, abs=1e-3)
    assert battery_km.range == pytest.approx(
        level * car.battery_capacity_kwh * car.efficiency_km_per_kwh, abs=0.1
    )
    assert battery_mi.range == pytest.approx(battery_km.range / KM_PER_MILE, abs=0.1)
    assert metric.battery_capacity().capacity == car.battery_capacity_kwh
    assert metric.charge().is_plugged_in == car.is_plugged_in
    assert metric.charge().state in ("CHARGING", "FULLY_CHARGED", "NOT_CHARGING")
    assert metric.get_charge_limit().limit == car.charge_limit


def test_lock_status_reports_every_closure(simulator, connected):
    status = connected.vehicle(electric(simulator).id).lock_status()

    assert {door["type"] for door in status.doors} == {"frontLeft", "frontRight", "backLeft", "backRight"}
    assert status.windows and status.sunroof and status.storage and status.charging_port


def test_answers_carry_smartcars_headers(simulator, connected, frozen_clock):
    vehicle_id = connected.vehicle_ids[0]
    response = requests.get(
        f"{simulator.base_url}/v2.0/vehicles/{vehicle_id}/odometer",
        headers={"Authorization": f"Bearer {connected.access.access_token}", "sc-unit-system": "imperial"},
        timeout=10,
    )

    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["SC-Request-Id"]
    assert response.headers["sc-unit-system"] == "imperial"
    assert response.headers["sc-data-age"].endswith("Z") and response.headers["sc-fetched-at"].endswith("Z")
    meta = connected.vehicle(vehicle_id).odometer().meta
    assert meta.data_age == frozen_clock().replace(microsecond=frozen_clock().microsecond // 1000 * 1000)
    assert meta.data_age.tzinfo is not None and meta.request_id


def test_attributes_answer_on_the_trailing_slash_the_official_sdk_uses(simulator, connected):
    vehicle_id = connected.vehicle_ids[0]
    response = requests.get(
        f"{simulator.base_url}/v2.0/vehicles/{vehicle_id}/",
        headers={"Authorization": f"Bearer {connected.access.access_token}"},
        timeout=10,
    )

    assert response.status_code == 200 and response.json()["id"] == vehicle_id


def test_a_fuel_car_has_no_battery_and_an_electric_car_no_tank(simulator, connected):
    with pytest.raises(VehicleNotCapableException) as caught:
        connected.vehicle(fuel_car(simulator).id).battery()
    assert caught.value.status_code == 501 and caught.value.code == "VEHICLE_NOT_CAPABLE"
    with pytest.raises(VehicleNotCapableException):
        connected.vehicle(electric(simulator).id).fuel()


def test_calls_outside_the_granted_scope_are_forbidden(simulator, auth_client, transport):
    limited = connect(auth_client, transport, scope=["read_odometer", "read_vehicle_info"])
    vehicle = limited.vehicle()

    assert vehicle.odometer().distance > 0
    with pytest.raises(PermissionException) as caught:
        vehicle.location()
    assert caught.value.status_code == 403 and caught.value.type == "PERMISSION"
    with pytest.raises(PermissionException):
        vehicle.lock()
    assert vehicle.permissions().permissions == ["read_odometer", "read_vehicle_info"]


def test_permissions_are_paged(connected):
    vehicle = connected.vehicle()
    everything = vehicle.permissions().permissions

    page = vehicle.permissions(limit=2, offset=3)

    assert page.permissions == everything[3:5]
    assert (page.paging.count, page.paging.offset) == (len(everything), 3)
    assert vehicle.has_permissions(["read_odometer", "control_security"])


def test_vehicle_list_is_paged(simulator, connected):
    page = get_vehicles(connected.access.access_token, limit=2, offset=1, transport=connected.transport)

    assert page.paging.count == 3 and page.paging.offset == 1 and len(page.vehicles) == 2
    every_id = list(
        iter_vehicle_ids(connected.access.access_token, page_size=1, transport=connected.transport)
    )
    assert sorted(every_id) == sorted(vehicle.id for vehicle in simulator.vehicles)


def test_bad_paging_is_a_validation_error(connected):
    with pytest.raises(ValidationException):
        get_vehicles(connected.access.access_token, limit=0, transport=connected.transport)


def test_unknown_or_unconnected_vehicles_are_a_validation_error_not_a_404(simulator, connected):
    someone_elses = create_vehicle(simulator.vehicles[0].user, make="BMW")

    for vehicle_id in ("no-such-vehicle", someone_elses.id):
        with pytest.raises(ValidationException) as caught:
            connected.vehicle(vehicle_id).odometer()
        assert caught.value.status_code == 400 and caught.value.code is None
        assert caught.value.resolution == {"type": None, "url": None}


def test_a_bad_token_is_an_authentication_error(connected):
    vehicle = Vehicle(connected.vehicle_ids[0], "forged-token", transport=connected.transport)

    with pytest.raises(AuthenticationException) as caught:
        vehicle.odometer()
    assert caught.value.status_code == 401 and "forged-token" not in str(caught.value)


def test_an_unknown_unit_system_is_a_validation_error(simulator, connected):
    response = requests.get(
        f"{simulator.base_url}/v2.0/vehicles/{connected.vehicle_ids[0]}/odometer",
        headers={"Authorization": f"Bearer {connected.access.access_token}", "sc-unit-system": "furlongs"},
        timeout=10,
    )

    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "VALIDATION" and body["statusCode"] == 400 and body["requestId"]
    assert set(body) >= {"code", "description", "docURL", "resolution", "detail"}
    assert body["resolution"] == {"type": None} and "suggestedUserMessage" not in body


def test_lock_and_unlock_change_the_lock_status(simulator, connected):
    vehicle = connected.vehicle(electric(simulator).id)

    assert vehicle.unlock().status == "success"
    assert vehicle.lock_status().is_locked is False
    assert {door["status"] for door in vehicle.lock_status().doors} == {"UNLOCKED"}
    vehicle.lock()
    assert vehicle.lock_status().is_locked is True


def test_charging_raises_the_battery_up_to_the_limit(simulator, connected, frozen_clock):
    car = electric(simulator)
    SimulatedVehicle.objects.filter(pk=car.pk).update(
        is_plugged_in=True,
        is_charging=False,
        battery_level=0.5,
        charge_limit=0.9,
        charge_rate_kw=50,
        speed_kmh=0,
    )
    vehicle = connected.vehicle(car.id)

    vehicle.start_charge()
    assert vehicle.charge().state == "CHARGING"
    frozen_clock.advance(minutes=15)
    assert vehicle.battery().percent_remaining == pytest.approx(
        0.5 + 12.5 / car.battery_capacity_kwh, abs=1e-3
    )
    frozen_clock.advance(hours=1)
    assert vehicle.battery().percent_remaining == pytest.approx(0.9)
    assert vehicle.charge().state == "FULLY_CHARGED"


def test_stopping_the_charge_holds_the_battery(simulator, connected, frozen_clock):
    car = electric(simulator)
    SimulatedVehicle.objects.filter(pk=car.pk).update(
        is_plugged_in=True, is_charging=True, battery_level=0.4, charge_limit=1.0, speed_kmh=0
    )
    vehicle = connected.vehicle(car.id)

    vehicle.stop_charge()
    frozen_clock.advance(hours=1)

    assert vehicle.battery().percent_remaining == pytest.approx(0.4)
    assert vehicle.charge().state == "NOT_CHARGING"


def test_charge_limit_can_be_set_within_range(simulator, connected):
    vehicle = connected.vehicle(electric(simulator).id)

    vehicle.set_charge_limit(0.75)
    assert vehicle.get_charge_limit().limit == 0.75
    with pytest.raises(ValidationException):
        vehicle.set_charge_limit(0.2)


def test_charging_an_unplugged_car_is_a_vehicle_state_error(simulator, connected):
    car = electric(simulator)
    SimulatedVehicle.objects.filter(pk=car.pk).update(is_plugged_in=False, is_charging=False)

    with pytest.raises(VehicleStateException) as caught:
        connected.vehicle(car.id).start_charge()
    assert caught.value.status_code == 409 and caught.value.code == "CHARGING_PLUG_NOT_CONNECTED"


def test_send_destination_checks_coordinates(connected):
    vehicle = connected.vehicle()

    assert vehicle.send_destination(37.77, -122.42).status == "success"
    with pytest.raises(ValidationException):
        vehicle.request("POST", "navigation/destination", body={"latitude": 123.0, "longitude": 0.0})


def test_a_driving_car_moves_and_spends_energy_as_time_passes(
    simulator, auth_client, transport, frozen_clock
):
    car = create_vehicle(simulator.vehicles[0].user, make="TESLA", speed_kmh=60.0, battery_level=0.8)
    tokens = grants.connect_vehicles(simulator.application, [car])
    vehicle = Vehicle(car.id, tokens["access_token"], transport=transport)
    before = (vehicle.odometer().distance, vehicle.location(), vehicle.battery().percent_remaining)

    frozen_clock.advance(minutes=30)

    assert vehicle.odometer().distance == pytest.approx(before[0] + 30, abs=0.1)
    assert (vehicle.location().latitude, vehicle.location().longitude) != (
        before[1].latitude,
        before[1].longitude,
    )
    assert vehicle.battery().percent_remaining < before[2]


def test_batch_answers_each_path_as_on_its_own(simulator, auth_client, transport):
    limited = connect(auth_client, transport, scope=["read_odometer", "read_battery", "read_fuel"])
    car_id = next(vid for vid in limited.vehicle_ids if SimulatedVehicle.objects.get(pk=vid).is_electric)

    answer = limited.vehicle(car_id, "imperial").batch(["/odometer", "/battery", "/fuel", "/location"])

    assert (
        answer["/odometer"]["code"] == 200 and answer["/odometer"]["headers"]["sc-unit-system"] == "imperial"
    )
    assert answer.result("/odometer").distance > 0
    assert answer.result("/battery").percent_remaining > 0
    assert set(answer.errors) == {"/fuel", "/location"}
    with pytest.raises(VehicleNotCapableException):
        answer.result("/fuel")
    with pytest.raises(PermissionException):
        answer.result("/location")


def test_a_malformed_batch_is_a_validation_error(connected):
    with pytest.raises(ValidationException):
        connected.vehicle().request("POST", "batch", body={"requests": "odometer"})


def test_generic_request_reaches_any_endpoint(connected):
    result = connected.vehicle(unit_system="imperial").request("GET", "odometer")

    assert result.data["distance"] > 0 and result.meta.unit_system == "imperial"


def test_disconnect_ends_the_tokens_access_to_that_vehicle(simulator, connected):
    gone, kept = connected.vehicle_ids[0], connected.vehicle_ids[1]

    assert connected.vehicle(gone).disconnect().status == "success"

    with pytest.raises(ValidationException):
        connected.vehicle(gone).odometer()
    assert connected.vehicle(kept).odometer().distance > 0
    listed = get_vehicles(connected.access.access_token, transport=connected.transport).vehicles
    assert gone not in listed and kept in listed
    assert not Connection.objects.filter(vehicle_id=gone).exists()


def test_compatibility_by_vin_and_scope(simulator, transport):
    credentials = {
        "client_id": simulator.client_id,
        "client_secret": simulator.client_secret,
        "transport": transport,
    }
    ev = electric(simulator)

    # The car is compatible; what it cannot do is told per endpoint (smartcar-v3.md S7.6).
    answer = get_compatibility(ev.vin, ["read_battery", "read_fuel"], **credentials)
    assert answer.compatible is True and answer.reason is None
    assert [(item.permission, item.endpoint, item.capable, item.reason) for item in answer.capabilities] == [
        ("read_battery", "/battery", True, None),
        ("read_battery", "/battery/capacity", True, None),
        ("read_fuel", "/fuel", False, "VEHICLE_NOT_CAPABLE"),
    ]
    assert get_compatibility(ev.vin, ["read_battery", "read_odometer"], **credentials).compatible is True
    unknown_make = get_compatibility("ZZZ00000000000000", ["read_odometer"], **credentials)
    assert unknown_make.compatible is False and unknown_make.reason == "MAKE_NOT_COMPATIBLE"
    assert unknown_make.capabilities == []
    with pytest.raises(ValidationException):
        get_compatibility("short", ["read_odometer"], **credentials)
    with pytest.raises(AuthenticationException):
        get_compatibility(
            ev.vin, ["read_odometer"], client_id=simulator.client_id, client_secret="x", transport=transport
        )


def test_state_changes_are_timestamped_by_the_simulator_clock(simulator, connected, frozen_clock):
    car = electric(simulator)
    frozen_clock.advance(hours=1)

    connected.vehicle(car.id).lock()

    assert SimulatedVehicle.objects.get(pk=car.pk).state_at == frozen_clock()
    assert frozen_clock() - car.state_at >= timedelta(hours=1)


def test_unknown_api_paths_answer_smartcars_json_404(simulator, connected):
    response = requests.get(
        f"{simulator.base_url}/v2.0/garages",
        headers={"Authorization": f"Bearer {connected.access.access_token}"},
        timeout=10,
    )

    assert response.status_code == 404
    assert response.json()["type"] == "RESOURCE_NOT_FOUND" and response.json()["code"] == "PATH"
