"""Stored vehicle data means what it says (issue 14 items 1, 2 and 7): percentages are percents (0-100) from
every source, a command never rewrites data read from the car, and data groups are reported by the names the
API's vehicle JSON uses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_smartcar.api.serializers import VehicleSerializer
from django_smartcar.models import Vehicle
from django_smartcar.services.commands import send_command
from django_smartcar.services.vehicles import (
    DATA_GROUPS,
    DataPoint,
    apply_vehicle_data,
    refresh_vehicle_data,
)
from django_smartcar.simulator.models import SimulatedVehicle

VEHICLES_URL = "/admin/django_smartcar/vehicle/"
API = "/api/smartcar"


def api_vehicle(browser, vehicle: Vehicle) -> dict:
    response = browser.get(f"{API}/vehicles/{vehicle.pk}/")
    assert response.status_code == 200, response.content[:500]
    return response.json()


# --- Item 1: percentages are percents, 0-100 -------------------------------------------------------------------


def test_polled_percentages_are_stored_and_served_as_percents(account, browser):
    for vehicle in account.vehicles.all():
        SimulatedVehicle.objects.filter(pk=vehicle.smartcar_id, fuel_level__isnull=False).update(
            fuel_level=0.772
        )
        SimulatedVehicle.objects.filter(pk=vehicle.smartcar_id, battery_level__isnull=False).update(
            battery_level=0.772, is_plugged_in=False
        )
        refresh_vehicle_data(vehicle)

        vehicle.refresh_from_db()
        data = api_vehicle(browser, vehicle)
        (group, stored) = (
            ("fuel", vehicle.fuel_percent_remaining)
            if vehicle.fuel_percent_remaining is not None
            else ("battery", vehicle.battery_percent_remaining)
        )
        # 77.2 %, give or take what the simulated car used since: never 0.772.
        assert stored == pytest.approx(77.2, abs=1.0), group
        assert data[group]["percent_remaining"] == stored


def test_v2_fractions_are_stored_as_percents_and_out_of_range_ones_dropped(account):
    vehicle = account.vehicles.first()
    now = timezone.now()

    updated = apply_vehicle_data(
        vehicle,
        [
            DataPoint("/fuel", {"percentRemaining": 0.772, "range": 400.0}, now),
            DataPoint("/battery", {"percentRemaining": 1, "range": 300.0}, now),
            DataPoint("/engine/oil", {"lifeRemaining": 0.57}, now),
        ],
    )

    vehicle.refresh_from_db()
    assert sorted(updated) == ["battery", "engine_oil", "fuel"]
    assert vehicle.fuel_percent_remaining == 77.2 and vehicle.fuel_range_km == 400.0
    assert vehicle.battery_percent_remaining == 100.0
    assert vehicle.oil_life_remaining == 57.0  # not 56.99999999999999
    later = now + timedelta(seconds=1)
    for body in ({"percentRemaining": 1.5}, {"percentRemaining": True}, {"percentRemaining": "0.5"}):
        assert apply_vehicle_data(vehicle, [DataPoint("/fuel", body, later)]) == []
    vehicle.refresh_from_db()
    assert vehicle.fuel_percent_remaining == 77.2


def test_the_admin_shows_percentages_as_percents(account, admin_client):
    vehicle = account.vehicles.first()
    Vehicle.objects.filter(pk=vehicle.pk).update(
        battery_percent_remaining=77.2, fuel_percent_remaining=80.0, oil_life_remaining=57.0
    )

    changelist = admin_client.get(VEHICLES_URL).content.decode()
    detail = admin_client.get(f"{VEHICLES_URL}{vehicle.pk}/change/").content.decode()

    assert "77.2 %" in changelist and "80 %" in changelist
    assert "77.2 %" in detail and "80 %" in detail and "57 %" in detail
    assert "0.772" not in changelist + detail


# --- Item 2: a command never rewrites data read from the car ---------------------------------------------------


def test_a_lock_leaves_the_data_read_from_the_car_consistent_and_shows_apart(account, browser):
    vehicle = account.vehicles.first()
    SimulatedVehicle.objects.filter(pk=vehicle.smartcar_id).update(is_locked=False)
    refresh_vehicle_data(vehicle)
    read = api_vehicle(browser, vehicle)
    assert read["security"]["is_locked"] is False
    assert {door["status"] for door in read["security"]["details"]["doors"]} == {"UNLOCKED"}
    assert read.get("last_command") is None

    locked = browser.post(f"{API}/vehicles/{vehicle.pk}/lock/?async=0")

    assert locked.status_code == 200 and locked.json()["status"] == "succeeded"
    assert SimulatedVehicle.objects.get(pk=vehicle.smartcar_id).is_locked is True
    after = api_vehicle(browser, vehicle)
    # The data read from the car is untouched, so it still agrees with itself, and is not "refreshed".
    assert after["security"] == read["security"]
    assert after["data_refreshed_at"] == read["data_refreshed_at"]
    # The command shows apart, with its outcome.
    assert after["last_command"]["id"] == locked.json()["id"]
    assert after["last_command"]["action"] == "lock" and after["last_command"]["status"] == "succeeded"

    # The next read brings the car's own state, doors included.
    refresh_vehicle_data(vehicle)
    reread = api_vehicle(browser, vehicle)
    assert reread["security"]["is_locked"] is True
    assert {door["status"] for door in reread["security"]["details"]["doors"]} == {"LOCKED"}
    assert reread["data_refreshed_at"] > read["data_refreshed_at"]


def test_the_last_command_is_the_latest_whatever_its_outcome(account, user, admin_client):
    vehicle = account.vehicles.first()
    send_command(vehicle, "unlock", user=user)
    Vehicle.objects.filter(pk=vehicle.pk).update(permissions=["read_odometer"])
    vehicle.refresh_from_db()

    failed = send_command(vehicle, "lock", user=user)

    vehicle.refresh_from_db()
    assert vehicle.last_command == failed and vehicle.is_locked is None and vehicle.data_refreshed_at is None
    changelist = admin_client.get(VEHICLES_URL).content.decode()
    assert "Lock: failed" in changelist


# --- Item 7 (part): data groups are named as in the vehicle JSON -----------------------------------------------


def test_refresh_names_the_groups_it_updated_as_the_vehicle_json_does(account, browser, record_signal):
    refreshed = record_signal("vehicle_data_refreshed")
    vehicle = account.vehicles.first()

    answer = browser.post(f"{API}/vehicles/{vehicle.pk}/refresh/?async=0").json()

    assert "security" in answer["updated"] and "lock" not in answer["updated"]
    groups = answer["vehicle"]
    assert all(groups[name] is not None for name in answer["updated"])
    assert refreshed.calls[0]["updated"] == answer["updated"]


def test_every_data_group_is_named_as_a_key_of_the_vehicle_json():
    # Including the groups the default scope does not read (engine_oil, tire_pressure).
    assert {group.name for group in DATA_GROUPS} <= set(VehicleSerializer().fields)
