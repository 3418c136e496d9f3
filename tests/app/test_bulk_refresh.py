"""Bulk refresh against the live simulator over HTTP: a chunk of vehicles read with many requests in flight, each
one stored by the single refresh's rules, within the application's rate limit and each vehicle's budget."""

from __future__ import annotations

import pytest
from django.utils import timezone

from django_smartcar import tasks
from django_smartcar.models import SmartcarAccount, Vehicle, VehicleRequestUsage, VehicleSignal
from django_smartcar.services import bulk, polling
from django_smartcar.simulator import faults
from django_smartcar.simulator.models import RateBucket, RequestCount, SimulatedUser
from django_smartcar.simulator.seeding import create_vehicle

from .conftest import DRIVER, connect_through_service

FLEET = 30


def add_driver_cars(count: int) -> None:
    driver = SimulatedUser.objects.get(email=DRIVER)
    for index in range(count):
        create_vehicle(driver, vin=f"BULK{index:013d}")


def batches_received() -> int:
    return sum(row.count for row in RequestCount.objects.filter(method="POST") if row.path.endswith("/batch"))


@pytest.fixture
def fleet(smartcar, browser, user, settings) -> SmartcarAccount:
    settings.SMARTCAR_SIMULATOR = {**settings.SMARTCAR_SIMULATOR, "VEHICLE_MONTHLY_REQUEST_LIMIT": 10_000}
    add_driver_cars(FLEET - 3)
    account = connect_through_service(smartcar, user)
    assert account.vehicles.count() == FLEET
    RequestCount.objects.all().delete()
    return account


def test_a_chunk_is_read_one_request_per_vehicle_and_stored(fleet):
    ids = list(fleet.vehicles.values_list("pk", flat=True))

    report = bulk.refresh_vehicles(ids, reason="interval")

    assert sorted(report.read) == sorted(ids) and not report.failed and not report.deferred
    assert batches_received() == FLEET
    for vehicle in Vehicle.objects.filter(pk__in=ids):
        assert vehicle.odometer_km is not None and vehicle.data_refreshed_at is not None
        assert vehicle.next_poll_at > timezone.now() and vehicle.poll_reason in (
            "parked",
            "driving",
            "charging",
        )
        billed = sum(
            RateBucket.objects.filter(key=f"billing:{vehicle.smartcar_id}").values_list("count", flat=True)
        )
        assert VehicleRequestUsage.objects.get(vehicle=vehicle).total == billed > 0


def test_what_the_bucket_cannot_grant_waits_for_a_later_task(fleet, settings):
    """The app's bucket is the simulator's: 5 requests now, the rest deferred with the wait; Smartcar (the
    simulator, with the same limit) never answers RATE_LIMIT."""
    limit = {"capacity": 5, "refill_per_minute": 2}
    settings.SMARTCAR = {**settings.SMARTCAR, "APP_RATE_LIMIT": limit}
    settings.SMARTCAR_SIMULATOR = {**settings.SMARTCAR_SIMULATOR, "APP_RATE_LIMIT": limit}
    ids = list(fleet.vehicles.values_list("pk", flat=True))

    report = bulk.refresh_vehicles(ids, reason="interval")

    assert len(report.read) == 5 and len(report.deferred) == FLEET - 5 and not report.failed
    assert report.retry_in > 60  # 2 a minute
    assert batches_received() == 5
    # Deferred vehicles were not counted against their budget (Connect billed 2 each: attributes, VIN).
    assert VehicleRequestUsage.objects.filter(vehicle_id__in=report.deferred, scheduled__gt=2).count() == 0


def test_one_vehicle_failing_loses_nothing_of_the_others(fleet):
    vehicles = list(fleet.vehicles.order_by("pk"))
    asleep = vehicles[0]
    faults.inject(faults.FaultKind.ASLEEP, vehicle=asleep.smartcar_id)

    report = bulk.refresh_vehicles([vehicle.pk for vehicle in vehicles], reason="interval")

    assert report.failed == [] and asleep.pk in report.read  # answered: every data point asleep
    assert len(report.read) == FLEET
    asleep.refresh_from_db()
    assert asleep.poll_reason == polling.ASLEEP and asleep.odometer_km is None
    assert Vehicle.objects.filter(account=fleet, odometer_km__isnull=False).count() == FLEET - 1


def test_a_redelivered_poll_skips_vehicles_read_meanwhile(fleet):
    ids = polling.claim_due()
    assert sorted(ids) == sorted(fleet.vehicles.values_list("pk", flat=True))
    first = bulk.refresh_vehicles(ids)
    again = bulk.refresh_vehicles(ids)  # the same message, delivered again after a worker was killed

    assert len(first.read) == FLEET and sorted(again.skipped) == sorted(ids)
    assert batches_received() == FLEET


def test_the_beat_task_queues_chunks_and_a_deferred_rest_is_queued_again(fleet, settings, monkeypatch):
    settings.SMARTCAR = {**settings.SMARTCAR, "BULK_CHUNK_SIZE": 12, "APP_RATE_LIMIT": None}
    chunks, later = [], []
    monkeypatch.setattr(tasks.refresh_vehicles, "delay", lambda ids, reason: chunks.append((ids, reason)))

    assert tasks.poll_due_vehicles() == FLEET
    assert [len(ids) for ids, _ in chunks] == [12, 12, 6] and {reason for _, reason in chunks} == {"poll"}

    settings.SMARTCAR = {**settings.SMARTCAR, "APP_RATE_LIMIT": {"capacity": 4, "refill_per_minute": 2}}
    monkeypatch.setattr(
        tasks.refresh_vehicles, "apply_async", lambda args, countdown: later.append((args, countdown))
    )
    summary = tasks.refresh_vehicles.run(chunks[0][0], "poll")

    assert summary["read"] == 4 and summary["deferred"] == 8
    assert len(later) == 1 and len(later[0][0][0]) == 8 and later[0][1] > 60


def test_v3_vehicles_are_read_through_their_signals(v3_fleet):
    ids = list(v3_fleet.vehicles.values_list("pk", flat=True))

    report = bulk.refresh_vehicles(ids, reason="interval")

    assert sorted(report.read) == sorted(ids)
    assert VehicleSignal.objects.filter(vehicle_id__in=ids).values("vehicle").distinct().count() == len(ids)
    # One signals request per vehicle, billed one each.
    assert all(VehicleRequestUsage.objects.get(vehicle_id=pk).total == 1 for pk in ids)


@pytest.fixture
def v3_fleet(smartcar, settings, user):
    from tests.v3.conftest import make_v3_account

    settings.SMARTCAR = {
        **settings.SMARTCAR,
        "API_VERSION": "3",
        "API_CLIENT_ID": smartcar.api_client_id,
        "API_CLIENT_SECRET": smartcar.api_client_secret,
    }
    add_driver_cars(9)
    return make_v3_account(smartcar, user)
