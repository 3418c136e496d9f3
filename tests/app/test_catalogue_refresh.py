"""What the app makes of the simulator's catalogue: a plug-in hybrid stores fuel and battery, a stale car's data
keeps its age, a sleeping car is "asleep, retried later" (not a permanent failure, not a reason to reconnect),
and the month's billing limit (430) is a failure. Against the live simulator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.utils import timezone

from django_smartcar import client, tasks
from django_smartcar.models import SmartcarAccount, Vehicle, VehicleRefresh
from django_smartcar.services.vehicles import refresh_vehicle_data
from django_smartcar.simulator.seeding import create_user, create_vehicle

from .conftest import connect_through_service
from .test_admin import VEHICLES_URL, messages_of, operator, run_action  # noqa: F401

OWNER = "catalogue@example.com"


@pytest.fixture
def fleet_account(smartcar, browser, user):
    """Connect ``OWNER``'s cars, made with the given attributes, to an account; returns its vehicle rows."""

    def connect(*cars: dict):
        owner = create_user(OWNER)
        for attributes in cars:
            create_vehicle(owner, **attributes)
        account = connect_through_service(smartcar, user, email=OWNER)
        return account, list(account.vehicles.order_by("pk"))

    return connect


def test_a_plug_in_hybrid_stores_both_fuel_and_battery(fleet_account):
    _, [hybrid] = fleet_account({"powertrain": "PHEV", "battery_level": 0.4, "fuel_level": 0.7})

    result = refresh_vehicle_data(hybrid)

    assert {"fuel", "battery", "charge"} <= set(result.updated), result
    assert not result.errors and not {"fuel", "battery"} & set(result.not_capable)
    hybrid.refresh_from_db()
    assert hybrid.fuel_percent_remaining == pytest.approx(70, abs=1)
    assert hybrid.battery_percent_remaining == pytest.approx(40, abs=1)


def test_a_stale_car_keeps_the_age_of_its_reading(fleet_account):
    _, [stale] = fleet_account({"powertrain": "FUEL", "data_age_hours": 26})

    refresh_vehicle_data(stale)

    stale.refresh_from_db()
    assert stale.odometer_age == pytest.approx(timezone.now() - timedelta(hours=26), abs=timedelta(minutes=1))


@pytest.fixture
def sleeper(fleet_account):
    """A car asleep all but one minute in 100,000."""
    account, [car] = fleet_account(
        {"powertrain": "FUEL", "speed_kmh": 0.0, "awake_minutes": 1, "asleep_minutes": 100_000}
    )
    return account, car


def test_a_sleeping_car_is_asleep_retried_later_not_a_reason_to_reconnect(sleeper, monkeypatch):
    account, car = sleeper
    queued = []
    monkeypatch.setattr(
        tasks.refresh_vehicle_data, "apply_async", lambda args, countdown: queued.append((args, countdown))
    )

    result = refresh_vehicle_data(car)

    assert result.failed and result.retry_later
    assert "odometer: vehicle asleep, retried later" in result.describe_failures()
    assert queued and queued[0][0] == (car.pk,) and queued[0][1] > 0
    account.refresh_from_db()
    assert account.status == SmartcarAccount.Status.ACTIVE


def test_the_refresh_task_retries_a_sleeping_car(sleeper):
    _, car = sleeper

    with pytest.raises(Retry):
        tasks.refresh_vehicle_data(car.pk)


def run_queued_refresh(car: Vehicle) -> VehicleRefresh:
    """What the worker does with the refresh the admin queued for ``car``; the refresh, as recorded."""
    refresh = VehicleRefresh.objects.filter(vehicle=car).latest("requested_at")
    tasks.refresh_vehicle_data.apply(args=(car.pk, refresh.pk))
    refresh.refresh_from_db()
    return refresh


def test_the_admin_says_asleep_retried_later(sleeper, operator):  # noqa: F811
    _, car = sleeper

    response = run_action(operator, VEHICLES_URL, "refresh_data", [car], confirm=True)

    assert any("Refresh queued" in text for text in messages_of(response))
    assert "vehicle asleep, retried later" in run_queued_refresh(car).summary
    assert "vehicle asleep, retried later" in operator.get(VEHICLES_URL).content.decode()


def test_the_months_billing_limit_is_a_failed_refresh(fleet_account, settings, operator):  # noqa: F811
    _, [car] = fleet_account({"powertrain": "EV"})
    settings.SMARTCAR_SIMULATOR = {**settings.SMARTCAR_SIMULATOR, "VEHICLE_MONTHLY_REQUEST_LIMIT": 2}

    with pytest.raises(client.BillingException) as caught:
        refresh_vehicle_data(car)  # one batch of more than two billed paths

    assert (caught.value.status_code, caught.value.code) == (430, "VEHICLE_REQUEST_LIMIT")
    run_action(operator, VEHICLES_URL, "refresh_data", [car], confirm=True)
    refresh = run_queued_refresh(car)
    assert refresh.status == VehicleRefresh.Status.FAILED and refresh.error_type == "BILLING"
    assert "BILLING" in operator.get(VEHICLES_URL).content.decode()
