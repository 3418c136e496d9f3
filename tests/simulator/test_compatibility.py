"""GET /v2.0/compatibility as Smartcar answers it (smartcar-v3.md S7.6): one capability per endpoint with a bare
path, the documented reasons, no capabilities when the vehicle is not compatible, Smartcar's test VINs."""

from __future__ import annotations

import pytest

from django_smartcar.client import get_compatibility
from django_smartcar.simulator.compatibility import UNSERVED_ENDPOINTS, endpoints_of


@pytest.fixture
def check(simulator, transport):
    def call(vin, scope):
        return get_compatibility(
            vin,
            scope,
            client_id=simulator.client_id,
            client_secret=simulator.client_secret,
            transport=transport,
        )

    return call


def test_one_capability_per_endpoint_with_bare_paths(check, simulator):
    fuel_car = next(vehicle for vehicle in simulator.vehicles if not vehicle.is_electric)

    answer = check(fuel_car.vin, ["read_charge", "read_engine_oil", "read_vehicle_info"])

    assert answer.compatible is True and answer.reason is None
    assert [(item.permission, item.endpoint, item.capable, item.reason) for item in answer.capabilities] == [
        ("read_charge", "/charge", False, "VEHICLE_NOT_CAPABLE"),
        ("read_charge", "/charge/limit", False, "VEHICLE_NOT_CAPABLE"),
        ("read_engine_oil", "/engine/oil", True, None),
        ("read_vehicle_info", "/", True, None),
    ]


def test_what_the_simulator_does_not_serve_is_smartcar_not_capable(check, simulator):
    unserved = next(name for name in UNSERVED_ENDPOINTS if not endpoints_of(name)[1])

    answer = check(simulator.vehicles[0].vin, [unserved])

    assert answer.compatible is True
    assert {(item.capable, item.reason) for item in answer.capabilities} == {(False, "SMARTCAR_NOT_CAPABLE")}
    assert [item.endpoint for item in answer.capabilities] == list(UNSERVED_ENDPOINTS[unserved])


def test_smartcars_incompatible_test_vin_has_no_capabilities(check):
    answer = check("0SCAUDI012FE3B132", ["read_odometer", "read_location"])

    assert (answer.compatible, answer.reason, answer.capabilities) == (False, "VEHICLE_NOT_COMPATIBLE", [])
    assert answer["capabilities"] == []


def test_smartcars_test_mode_vin_is_capable_of_everything(check):
    answer = check("0SCAUDI037A5ADB1C", ["read_fuel", "read_battery"])

    assert answer.compatible is True
    assert {item.endpoint for item in answer.capabilities} == {"/fuel", "/battery", "/battery/capacity"}
    assert all(item.capable and item.reason is None for item in answer.capabilities)


def test_an_unknown_make_is_make_not_compatible_without_capabilities(check):
    answer = check("ZZZ00000000000000", ["read_odometer"])

    assert (answer.compatible, answer.reason, answer.capabilities) == (False, "MAKE_NOT_COMPATIBLE", [])
