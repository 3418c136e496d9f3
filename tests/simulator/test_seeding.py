"""Seeding: deterministic vehicles from a seed, the Python API, the control API and the command."""

from __future__ import annotations

import io

import pytest
import requests
from django.core.management import call_command
from django.core.management.base import CommandError

from django_smartcar.simulator.models import Application, Connection, SimulatedVehicle
from django_smartcar.simulator.seeding import (
    create_user,
    create_vehicle,
    register_application,
    seed_vehicles,
    vin_check_digit,
)

pytestmark = pytest.mark.django_db


def snapshot(vehicles: list[SimulatedVehicle]) -> list[tuple]:
    return [
        (v.id, v.vin, v.make, v.model, v.year, v.powertrain, v.odometer_km, v.is_locked) for v in vehicles
    ]


def test_the_same_seed_gives_the_same_vehicles():
    first = snapshot(seed_vehicles(5, seed=11, email="a@example.com"))
    SimulatedVehicle.objects.all().delete()

    assert snapshot(seed_vehicles(5, seed=11, email="a@example.com")) == first
    assert snapshot(seed_vehicles(5, seed=12, email="a@example.com")) != first


def test_seeding_twice_returns_the_existing_vehicles():
    first = seed_vehicles(3, seed=1)

    assert seed_vehicles(3, seed=1) == first
    assert SimulatedVehicle.objects.count() == 3


def test_a_larger_fleet_mixes_makes_and_powertrains():
    fleet = seed_vehicles(12, seed=3)

    assert len({vehicle.make for vehicle in fleet}) >= 4
    assert {vehicle.powertrain for vehicle in fleet} == {"EV", "FUEL"}
    for vehicle in fleet:
        assert (vehicle.battery_level is not None) == vehicle.is_electric
        assert (vehicle.fuel_level is not None) != vehicle.is_electric


def test_vins_are_valid_seventeen_character_vins():
    for vehicle in seed_vehicles(10, seed=5):
        assert len(vehicle.vin) == 17 and not set(vehicle.vin) & set("IOQ")
        assert vehicle.vin[8] == vin_check_digit(vehicle.vin)


def test_the_check_digit_of_a_known_vin():
    assert vin_check_digit("1M8GDM9AXKP042788") == "X"


def test_seeding_for_one_make():
    assert {vehicle.make for vehicle in seed_vehicles(4, seed=2, make="TESLA")} == {"TESLA"}
    with pytest.raises(ValueError):
        seed_vehicles(1, make="TRABANT")


def test_user_ids_follow_from_the_email():
    assert create_user("Driver@Example.com").id == create_user("driver@example.com").id


def test_create_vehicle_keeps_the_given_attributes():
    vehicle = create_vehicle(create_user("x@example.com"), make="FORD", powertrain="EV", speed_kmh=42.0)

    assert (vehicle.make, vehicle.powertrain, vehicle.speed_kmh) == ("FORD", "EV", 42.0)
    assert vehicle.battery_capacity_kwh and vehicle.model == "Mustang Mach-E"


def test_seeding_with_an_application_connects_the_vehicles():
    application = register_application("cid", "secret", ["http://127.0.0.1/cb"])

    vehicles = seed_vehicles(2, seed=9, application=application)

    assert {c.vehicle for c in Connection.objects.filter(application=application)} == set(vehicles)


def test_registering_again_updates_the_application():
    register_application("cid", "secret", ["http://127.0.0.1/a"], management_token="amt-1")
    application = register_application("cid", "secret2", ["http://127.0.0.1/b"], management_token="amt-2")

    assert Application.objects.count() == 1
    assert application.redirect_uris == ["http://127.0.0.1/b"] and application.management_token == "amt-2"
    assert "secret2" not in application.client_secret_hash


def test_the_seed_command_registers_and_seeds():
    out = io.StringIO()
    call_command(
        "smartcar_simulator_seed",
        "--vehicles=2",
        "--seed=4",
        "--email=cmd@example.com",
        "--client-id=cmd-app",
        "--client-secret=s",
        "--redirect-uri=http://127.0.0.1/cb",
        stdout=out,
    )

    assert SimulatedVehicle.objects.filter(user__email="cmd@example.com").count() == 2
    assert Connection.objects.filter(application__client_id="cmd-app").count() == 2
    assert "cmd@example.com" in out.getvalue()


def test_the_seed_command_refuses_an_unknown_application():
    with pytest.raises(CommandError, match="No application"):
        call_command("smartcar_simulator_seed", "--client-id=ghost", stdout=io.StringIO())


def test_the_control_api_seeds(simulator):
    response = requests.post(
        f"{simulator.base_url}/_simulator/seed",
        json={"count": 2, "seed": 8, "email": "remote@example.com", "connect": True},
        headers={"Authorization": f"Bearer {simulator.management_token}"},
        timeout=10,
    )

    assert response.status_code == 201
    ids = [vehicle["id"] for vehicle in response.json()["vehicles"]]
    assert set(
        SimulatedVehicle.objects.filter(user__email="remote@example.com").values_list("id", flat=True)
    ) == set(ids)
    assert Connection.objects.filter(vehicle_id__in=ids, application=simulator.application).count() == 2
