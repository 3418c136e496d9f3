"""A month of adaptive polling against the simulator's billing, in virtual time: v2 cars (billed per data point, the
costly case) that drive, charge, sleep, or get their data by webhook, the plan's 500 requests per vehicle at the
app and at Smartcar alike. (V3 reads, one billed request each, are measured in ``benchmarks``' month.)

Every 30 virtual minutes beat's round runs (``polling.claim_due`` then ``bulk.refresh_vehicles``, what
``tasks.poll_due_vehicles`` and ``tasks.refresh_vehicles`` do), and the owner of one car asks for a refresh
every day. The clock both sides read (``django.utils.timezone.now``) is moved, so the simulator's cars drive,
charge and sleep through the month and its billing counts the month. No vehicle may ever get a 430.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone

from django_smartcar.models import SmartcarAccount, Vehicle, VehicleRequestUsage
from django_smartcar.services import budget, bulk, polling
from django_smartcar.services.vehicles import refresh_vehicle_data
from django_smartcar.simulator.models import RateBucket, SimulatedUser
from django_smartcar.simulator.seeding import create_vehicle

from .conftest import DRIVER, connect_through_service

PLAN = 500
MONTH_START = datetime(2027, 1, 1, tzinfo=dt_timezone.utc)
STEP = timedelta(minutes=30)
HOURLY_POLL = 31 * 24  # requests per vehicle in January if every vehicle were read every hour


@pytest.fixture
def month_fleet(smartcar, settings, browser, user, django_user_model):
    settings.SMARTCAR = {**settings.SMARTCAR, "MONTHLY_REQUESTS_PER_VEHICLE": PLAN}
    settings.SMARTCAR_SIMULATOR = {**settings.SMARTCAR_SIMULATOR, "VEHICLE_MONTHLY_REQUEST_LIMIT": PLAN}
    driver = SimulatedUser.objects.get(email=DRIVER)
    profiles = {
        "driving": {"powertrain": "EV", "speed_kmh": 40.0},
        "charging": {"powertrain": "EV", "speed_kmh": 0.0, "is_plugged_in": True, "battery_level": 0.05},
        "sleeper": {"powertrain": "FUEL", "speed_kmh": 0.0, "awake_minutes": 20, "asleep_minutes": 600},
        "parked": {"powertrain": "FUEL", "speed_kmh": 0.0},
        "webhook": {"powertrain": "EV", "speed_kmh": 0.0},
    }
    for index, attributes in enumerate(profiles.values()):
        create_vehicle(driver, vin=f"MONTH{index:012d}", **attributes)
    return connect_through_service(smartcar, user), profiles


def simulator_billed(vehicle: Vehicle, month: str) -> int:
    return (
        RateBucket.objects.filter(key=f"billing:{vehicle.smartcar_id}", period=month)
        .values_list("count", flat=True)
        .first()
        or 0
    )


def test_a_month_of_polling_stays_within_every_vehicles_plan(month_fleet, monkeypatch):
    account, _ = month_fleet
    vehicles = list(account.vehicles.order_by("pk"))
    webhook_car = next(v for v in vehicles if v.vin == "MONTH000000000004")
    asked_by_owner = vehicles[0]
    refused = []
    real_failure = bulk.record_read_failure

    def watch_failure(vehicle, exc, **kwargs):
        refused.append((vehicle.pk, exc.status_code, exc.type, exc.code))
        return real_failure(vehicle, exc, **kwargs)

    monkeypatch.setattr(bulk, "record_read_failure", watch_failure)
    Vehicle.objects.filter(pk__in=[v.pk for v in vehicles]).update(next_poll_at=None, poll_reason="")
    clock = [MONTH_START]
    monkeypatch.setattr(timezone, "now", lambda: clock[0])

    while clock[0] < MONTH_START + timedelta(days=31):
        now = clock[0]
        if now.minute == 0 and now.hour % 3 == 0:
            polling.after_webhook(webhook_car, now=now)  # its data arrives by webhook (unbilled)
        if now.hour == 8 and now.minute == 0:
            asked_by_owner.refresh_from_db()
            try:
                refresh_vehicle_data(asked_by_owner, retry_later=False, kind=budget.USER)
            except Exception as exc:
                refused.append((asked_by_owner.pk, getattr(exc, "status_code", None), type(exc).__name__, ""))
        ids = polling.claim_due(now=now)
        if ids:
            bulk.refresh_vehicles(ids, now=now)
        clock[0] = now + STEP

    assert not [failure for failure in refused if failure[1] == 430], refused
    month = "2027-01"
    billed = {}
    for vehicle in vehicles:
        usage = VehicleRequestUsage.objects.filter(vehicle=vehicle, month=MONTH_START.date()).first()
        billed[vehicle.vin] = usage.total if usage else 0
        assert billed[vehicle.vin] == simulator_billed(vehicle, month) <= PLAN, vehicle.vin
        assert usage is None or usage.scheduled <= PLAN * 0.8
    assert billed["MONTH000000000004"] < billed["MONTH000000000003"]  # webhooks first: fewer polls
    # Adaptive polling spends far less than an hourly poll of every data point would.
    assert sum(billed.values()) < len(vehicles) * HOURLY_POLL / 3
    assert SmartcarAccount.objects.get(pk=account.pk).status == SmartcarAccount.Status.ACTIVE
