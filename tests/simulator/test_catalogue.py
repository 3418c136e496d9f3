"""The simulator's catalogue as real fleets are: plug-in hybrids, cars whose data is hours old, cars that sleep,
and the official SDK 6.x's further reads (service history, trouble codes, system status, nominal capacity).
Over HTTP against the live simulator, through the project's client."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from django_smartcar.client import (
    DiagnosticSystemStatus,
    DiagnosticTroubleCodes,
    NominalCapacity,
    PermissionException,
    ServiceHistory,
    SmartcarNotCapableException,
    ValidationException,
    Vehicle,
    VehicleNotCapableException,
    VehicleStateException,
)
from django_smartcar.simulator import grants
from django_smartcar.simulator.models import Powertrain, SimulatedVehicle
from django_smartcar.simulator.permissions import PERMISSIONS
from django_smartcar.simulator.seeding import create_user, create_vehicle, seed_vehicles
from django_smartcar.simulator.vehicle_state import is_sleeping, live_state

OWNER = "fleet@example.com"


@pytest.fixture
def car(simulator, transport):
    """Make a car for ``OWNER`` with the given attributes, connect it with ``scope`` and return its client."""

    def make(scope=None, **attributes) -> tuple[SimulatedVehicle, Vehicle]:
        vehicle = create_vehicle(create_user(OWNER), **attributes)
        # Every permission, the SDK 6.x's read_diagnostics and read_service_history included.
        granted = list(PERMISSIONS) if scope is None else scope
        tokens = grants.connect_vehicles(simulator.application, [vehicle], granted)
        return vehicle, Vehicle(vehicle.pk, str(tokens["access_token"]), transport=transport)

    return make


def test_a_plug_in_hybrid_answers_both_fuel_and_battery(car, auth_client):
    hybrid, vehicle = car(powertrain="PHEV")

    assert hybrid.powertrain == Powertrain.PLUG_IN_HYBRID and hybrid.has_battery and hybrid.has_fuel
    fuel, battery = vehicle.fuel(), vehicle.battery()
    assert fuel.percent_remaining == pytest.approx(hybrid.fuel_level, abs=0.01)
    assert battery.percent_remaining == pytest.approx(hybrid.battery_level, abs=0.01)
    assert vehicle.charge().state in ("CHARGING", "FULLY_CHARGED", "NOT_CHARGING")
    assert vehicle.engine_oil().life_remaining == hybrid.oil_life
    assert vehicle.lock_status().charging_port, "a plug-in hybrid has a charging port"
    batch = vehicle.batch(["/fuel", "/battery"])
    assert not batch.errors
    # Compatibility knows it has both.
    compatibility = auth_client.get_compatibility(hybrid.vin, ["read_fuel", "read_battery"])
    assert compatibility.compatible and all(item.capable for item in compatibility.capabilities)


def test_a_plug_in_hybrid_drives_on_its_battery_first(simulator, car, frozen_clock):
    _, vehicle = car(powertrain="PHEV", speed_kmh=60.0, battery_level=0.5, fuel_level=0.5)
    before = vehicle.fuel().percent_remaining

    frozen_clock.advance(minutes=10)

    assert vehicle.battery().percent_remaining < 0.5
    assert vehicle.fuel().percent_remaining == before


def test_a_car_whose_data_is_stale_says_how_old_its_reading_is(car, frozen_clock):
    stale, vehicle = car(
        data_age_hours=26,
        make="TOYOTA",
        powertrain="FUEL",
        speed_kmh=10.0,
        fuel_level=0.95,
        state_at=frozen_clock.current - timedelta(hours=30),
    )

    odometer = vehicle.odometer()

    reported = frozen_clock.current - timedelta(hours=26)
    assert odometer.meta.data_age == pytest.approx(reported, abs=timedelta(seconds=1))
    assert odometer.meta.fetched_at == pytest.approx(frozen_clock.current, abs=timedelta(seconds=1))
    # The values are the car's as of that reading, not as of now.
    assert odometer.distance == pytest.approx(live_state(stale, reported).odometer_km, abs=0.1)
    assert odometer.distance < live_state(stale, frozen_clock.current).odometer_km
    batch = vehicle.batch(["/location"])
    assert batch.result("/location").meta.data_age == pytest.approx(reported, abs=timedelta(seconds=1))


def sleeping_at(vehicle: SimulatedVehicle, start: datetime, want: bool) -> datetime:
    """The first whole minute from ``start`` at which the car is (or is not) asleep."""
    moment = start.replace(second=0, microsecond=0)
    for _ in range(24 * 60):
        if is_sleeping(vehicle, moment) == want:
            return moment
        moment += timedelta(minutes=1)
    raise AssertionError("the car never changed state")


def test_a_car_that_sleeps_answers_asleep_to_data_and_commands_until_it_wakes(car, frozen_clock):
    sleeper, vehicle = car(
        powertrain="FUEL", speed_kmh=0.0, awake_minutes=10, asleep_minutes=20, is_locked=True
    )
    frozen_clock.current = sleeping_at(sleeper, frozen_clock.current, want=True) + timedelta(seconds=30)

    for call in (vehicle.odometer, vehicle.unlock, vehicle.diagnostic_system_status):
        with pytest.raises(VehicleStateException) as caught:
            call()
        assert (caught.value.status_code, caught.value.code) == (409, "ASLEEP")
    assert vehicle.batch(["/odometer"])["/odometer"]["code"] == 409
    # Smartcar's own records answer while the car sleeps.
    assert vehicle.attributes().id == sleeper.pk and vehicle.vin().vin == sleeper.vin

    frozen_clock.current = sleeping_at(sleeper, frozen_clock.current, want=False) + timedelta(seconds=30)

    assert vehicle.odometer().distance > 0
    assert vehicle.unlock()["status"] == "success"


def test_a_driving_or_charging_car_stays_awake(simulator, frozen_clock):
    user = create_user(OWNER)
    driving = create_vehicle(user, powertrain="FUEL", speed_kmh=40.0, awake_minutes=1, asleep_minutes=600)
    charging = create_vehicle(
        user, powertrain="EV", speed_kmh=0.0, is_plugged_in=True, is_charging=True, awake_minutes=1,
        asleep_minutes=600, battery_level=0.3, charge_limit=0.9,
    )  # fmt: skip
    for minute in range(0, 601, 30):
        moment = frozen_clock.current + timedelta(minutes=minute)
        assert not is_sleeping(driving, moment) and not is_sleeping(charging, moment)


def test_seeding_gives_some_cars_traits_the_same_way_every_time(simulator):
    fleet = seed_vehicles(40, seed=3, email="traits@example.com", traits=True)
    again = seed_vehicles(40, seed=3, email="traits@example.com", traits=True)

    assert [car.pk for car in fleet] == [car.pk for car in again]
    assert any(car.powertrain == Powertrain.PLUG_IN_HYBRID for car in fleet)
    assert any(car.data_age_hours > 0 for car in fleet)
    assert any(car.awake_minutes and car.asleep_minutes for car in fleet)
    assert any(
        car.data_age_hours == 0 and not car.awake_minutes and car.powertrain != Powertrain.PLUG_IN_HYBRID
        for car in fleet
    ), "most cars stay plain"
    plain = seed_vehicles(40, seed=3, email="plain@example.com", traits=False)
    assert not any(car.data_age_hours or car.awake_minutes for car in plain)
    assert {car.powertrain for car in plain} <= {Powertrain.ELECTRIC, Powertrain.FUEL}


def test_service_history_lists_the_dealer_records_of_the_last_year_or_a_range(car, frozen_clock):
    ford, vehicle = car(make="FORD", powertrain="FUEL", odometer_km=60_000.0, speed_kmh=0.0)

    everything = vehicle.service_history(start_date="2000-01-01")
    last_year = vehicle.service_history()

    assert isinstance(everything, ServiceHistory) and len(everything.records) >= 3
    records = sorted(everything.records, key=lambda record: record.service_date)
    assert all(r.odometer_distance < ford.odometer_km for r in records)
    assert [r.odometer_distance for r in records] == sorted(r.odometer_distance for r in records)
    year_ago = frozen_clock.current - timedelta(days=365)
    assert {r.service_date for r in last_year.records} == {
        r.service_date for r in records if r.service_date >= year_ago
    }
    first = records[0]
    assert first.service_tasks and "serviceCost" in first.data
    only_first = vehicle.service_history(
        start_date=(first.service_date - timedelta(days=1)).strftime("%Y-%m-%d"),
        end_date=(first.service_date + timedelta(minutes=1)).isoformat().replace("+00:00", "Z"),
    )
    assert [r.service_date for r in only_first.records] == [first.service_date]
    with pytest.raises(ValidationException):
        vehicle.service_history(start_date="last tuesday")


def test_service_history_needs_its_permission_and_a_supported_brand(car):
    _, without = car(make="TOYOTA", powertrain="FUEL", scope=["read_vehicle_info", "read_odometer"])
    with pytest.raises(PermissionException):
        without.service_history()

    _, tesla = car(make="TESLA", powertrain="EV")
    with pytest.raises(SmartcarNotCapableException) as caught:
        tesla.service_history()
    assert (caught.value.status_code, caught.value.code) == (501, "SMARTCAR_NOT_CAPABLE")


def test_trouble_codes_and_system_status_agree(car):
    chevrolets = [car(make="CHEVROLET", powertrain="EV", id=str(uuid.UUID(int=n))) for n in range(1, 13)]
    with_codes = 0
    for chevrolet, vehicle in chevrolets:
        codes = vehicle.diagnostic_trouble_codes()
        status = {system.system_id: system for system in vehicle.diagnostic_system_status().systems}
        engine_codes = [code.code for code in codes.active_codes if code.code.startswith("P")]
        assert all(c.timestamp is None or c.timestamp.tzinfo == timezone.utc for c in codes.active_codes)
        assert status["SYSTEM_MIL"].status == ("ALERT" if engine_codes else "OK"), chevrolet.pk
        assert status["SYSTEM_AIRBAG"].status == "OK"
        assert vehicle.diagnostic_trouble_codes().active_codes == codes.active_codes  # facts, not noise
        with_codes += bool(codes.active_codes)
    assert 0 < with_codes < len(chevrolets)


def test_system_status_reports_a_low_tire_and_needs_a_supported_brand(car):
    low = {"frontLeft": 180.0, "frontRight": 240.0, "backLeft": 240.0, "backRight": 240.0}
    _, jeep = car(make="JEEP", powertrain="FUEL", tire_pressure_kpa=low)

    tpms = next(s for s in jeep.diagnostic_system_status().systems if s.system_id == "SYSTEM_TPMS")

    assert tpms.status == "ALERT" and "frontLeft" in (tpms.description or "")
    with pytest.raises(SmartcarNotCapableException):
        jeep.diagnostic_trouble_codes()  # GM brands only
    _, without = car(make="CHEVROLET", powertrain="EV", scope=["read_vehicle_info"])
    with pytest.raises(PermissionException):
        without.diagnostic_trouble_codes()


def test_nominal_capacity_for_batteries_only(car):
    electric, vehicle = car(powertrain="EV")

    capacity = vehicle.nominal_capacity()

    assert isinstance(capacity, NominalCapacity)
    assert capacity.capacity is not None and capacity.capacity.nominal == electric.battery_capacity_kwh
    assert capacity.capacity.source == "SMARTCAR" and capacity.url is None
    assert [item.capacity for item in capacity.available_capacities] == [electric.battery_capacity_kwh]
    assert vehicle.nominal_capacity()["capacity"]["nominal"] == electric.battery_capacity_kwh

    _, fuel = car(powertrain="FUEL")
    with pytest.raises(VehicleNotCapableException):
        fuel.nominal_capacity()
    _, hybrid = car(powertrain="PHEV")
    assert hybrid.nominal_capacity().capacity is not None


def test_the_new_paths_in_a_batch_give_typed_results(car):
    _, vehicle = car(make="CHEVROLET", powertrain="EV")

    batch = vehicle.batch(
        ["/battery/nominal_capacity", "/diagnostics/dtcs", "/diagnostics/system_status", "/service/history"]
    )

    assert isinstance(batch.result("/battery/nominal_capacity"), NominalCapacity)
    assert isinstance(batch.result("/diagnostics/dtcs"), DiagnosticTroubleCodes)
    assert isinstance(batch.result("/diagnostics/system_status"), DiagnosticSystemStatus)
    # Chevrolet keeps no dealer records with Smartcar: that item fails on its own.
    assert batch["/service/history"]["code"] == 501
