"""What a car cannot give is learnt once, not asked for again (it is billed), and never reported as a failure;
real failures are named. Against the live simulator, which answers COMPATIBILITY:VEHICLE_NOT_CAPABLE per batch
item as Smartcar does."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from django_smartcar.models import Vehicle
from django_smartcar.services.clients import get_transport
from django_smartcar.services.vehicles import refresh_vehicle_data, refreshable_paths, sync_vehicles
from django_smartcar.simulator import faults
from django_smartcar.simulator.models import SimulatedVehicle

from .test_admin import VEHICLES_URL, messages_of, operator, run_action  # noqa: F401

EV_ONLY = {"battery", "charge"}


@pytest.fixture
def batch_paths(smartcar):
    """The paths of every batch request the app sends to Smartcar during the test, one list per request."""
    sent: list[list[str]] = []

    def record(response, *args, **kwargs):
        if response.request.url.endswith("/batch"):
            sent.append([item["path"] for item in json.loads(response.request.body)["requests"]])

    hooks = get_transport().session.hooks["response"]
    hooks.append(record)
    yield sent
    hooks.remove(record)


def fuel_car(account) -> Vehicle:
    for vehicle in account.vehicles.order_by("pk"):
        if not SimulatedVehicle.objects.get(pk=vehicle.smartcar_id).is_electric:
            assert {"read_battery", "read_charge"} <= set(vehicle.permissions)
            return vehicle
    raise AssertionError("the driver has no fuel car")


def test_a_fuel_car_is_asked_once_for_its_battery_and_charge_then_never_again(account, batch_paths):
    vehicle = fuel_car(account)

    first = refresh_vehicle_data(vehicle)

    assert {"/battery", "/charge"} <= set(batch_paths[0])
    assert not first.errors  # not capable is no failure
    assert set(first.not_capable) == EV_ONLY and "odometer" in first.updated
    vehicle.refresh_from_db()
    assert set(vehicle.not_capable) == EV_ONLY

    second = refresh_vehicle_data(vehicle)

    assert len(batch_paths) == 2
    assert not {"/battery", "/charge"} & set(batch_paths[1])
    assert "/odometer" in batch_paths[1] and "/fuel" in batch_paths[1]
    assert not second.errors and not second.not_capable
    vehicle.refresh_from_db()
    assert set(vehicle.not_capable) == EV_ONLY  # still remembered, with the time it was first learnt


def test_what_a_car_cannot_give_is_asked_again_after_the_recheck_period(account, settings):
    vehicle = fuel_car(account)
    refresh_vehicle_data(vehicle)
    vehicle.refresh_from_db()
    now = timezone.now()
    assert "/battery" not in refreshable_paths(vehicle, now)
    assert "/battery" in refreshable_paths(vehicle, now + timedelta(days=31))  # the default: 30 days

    settings.SMARTCAR = {**settings.SMARTCAR, "NOT_CAPABLE_RECHECK_AFTER": None}
    assert "/battery" not in refreshable_paths(vehicle, now + timedelta(days=3650))


def test_a_reconnected_vehicle_is_asked_for_everything_again(account, smartcar):
    vehicle = fuel_car(account)
    refresh_vehicle_data(vehicle)
    Vehicle.objects.filter(pk=vehicle.pk).update(is_connected=False, disconnected_at=timezone.now())

    sync_vehicles(account)  # Smartcar still lists it: connected again

    vehicle.refresh_from_db()
    assert vehicle.is_connected and vehicle.not_capable == {}
    assert {"/battery", "/charge"} <= set(refreshable_paths(vehicle))


def test_a_withdrawn_permission_is_a_named_failure_and_not_learnt_as_not_capable(
    account,
    smartcar,
    operator,  # noqa: F811
    worker,
):
    vehicle = fuel_car(account)
    grant = smartcar.application.grants.latest("id")
    grant.scope = [scope for scope in grant.scope if scope != "read_location"]
    grant.save()

    run_action(operator, VEHICLES_URL, "refresh_data", [vehicle], confirm=True)
    worker()

    message = Vehicle.objects.get(pk=vehicle.pk).last_refresh.summary
    assert message in operator.get(VEHICLES_URL).content.decode()
    assert "could not read location: permission not granted" in message, message
    assert "battery" not in message.split("could not read")[1].split(";")[0]
    vehicle.refresh_from_db()
    assert "location" not in vehicle.not_capable and set(vehicle.not_capable) == EV_ONLY


def test_a_sleeping_car_names_each_data_point_that_failed(account, operator, worker):  # noqa: F811
    vehicle = fuel_car(account)
    faults.inject("asleep", vehicle=vehicle.smartcar_id)

    run_action(operator, VEHICLES_URL, "refresh_data", [vehicle], confirm=True)
    worker(lift_faults=False)

    text = operator.get(VEHICLES_URL).content.decode()
    assert "odometer: vehicle asleep" in text and "location: vehicle asleep" in text, text
    assert "data point(s) failed" not in text


def test_smartcar_sync_names_the_failed_data_points_and_not_the_ones_the_car_lacks(account, smartcar):
    vehicle = fuel_car(account)
    grant = smartcar.application.grants.latest("id")
    grant.scope = [scope for scope in grant.scope if scope != "read_odometer"]
    grant.save()
    out = StringIO()

    call_command("smartcar_sync", "--vehicle", str(vehicle.pk), stdout=out, stderr=StringIO())

    assert f"vehicle {vehicle.pk}: could not read odometer: permission not granted" in out.getvalue()
    assert "battery" not in out.getvalue()


def test_the_api_names_failures_and_shows_what_the_car_cannot_give(account, smartcar, browser):
    vehicle = fuel_car(account)
    grant = smartcar.application.grants.latest("id")
    grant.scope = [scope for scope in grant.scope if scope != "read_location"]
    grant.save()

    answer = browser.post(f"/api/smartcar/vehicles/{vehicle.pk}/refresh/?async=0").json()

    assert sorted(answer["not_capable"]) == sorted(EV_ONLY)
    assert sorted(answer["vehicle"]["not_capable"]) == sorted(EV_ONLY)
    [error] = answer["errors"]
    assert (error["path"], error["data_point"], error["reason"], error["type"]) == (
        "/location",
        "location",
        "permission not granted",
        "PERMISSION",
    )


def test_the_admin_vehicle_page_shows_what_the_car_cannot_give(account, operator):  # noqa: F811
    vehicle = fuel_car(account)
    refresh_vehicle_data(vehicle)

    page = operator.get(f"{VEHICLES_URL}{vehicle.pk}/change/").content.decode()

    assert "Not capable" in page and '"battery"' in page.replace("&quot;", '"')
