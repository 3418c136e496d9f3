"""Benchmark 2: refreshing nine data points of every connected vehicle.

The app: the beat task ``refresh_connected_vehicles`` queues one ``refresh_vehicle_data`` per vehicle, each ONE
batch request over the shared pooled transport, executed by the 16-thread worker. Baselines on the official
``smartcar`` package: one request per data point, and its own ``batch`` call, each in a sequential loop that
stores what it read with one save per vehicle.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from django_smartcar import tasks
from django_smartcar.models import SmartcarAccount, Vehicle

from .measure import busy_fraction, machine_cpu_times, median_ms, wait_until
from .report import Row
from .simulator import Owner, Simulator
from .worker import RECOMMENDED_CONCURRENCY, CeleryWorker

BENCHMARK = "2. Vehicle data refresh"
API_LATENCY_MS = 50
PER_ENDPOINT_TARGET = 20
# The permissions behind the nine data points (the VIN is read while it is unknown, as on a first refresh).
READ_PERMISSIONS = [
    "read_vehicle_info",
    "read_vin",
    "read_odometer",
    "read_location",
    "read_fuel",
    "read_battery",
    "read_charge",
    "read_engine_oil",
    "read_tires",
    "read_security",
]


def _percent(fraction: float | None) -> float | None:
    """The official package answers fractions (0-1); the app stores percents (0-100), as the baseline does."""
    return None if fraction is None else fraction * 100


# (batch path, the official Vehicle's method and batch attribute, the model fields its answer fills)
OFFICIAL_READS: tuple[tuple[str, str, Callable[[Any], dict[str, Any]]], ...] = (
    ("/odometer", "odometer", lambda r: {"odometer_km": r.distance}),
    ("/location", "location", lambda r: {"latitude": r.latitude, "longitude": r.longitude}),
    (
        "/fuel",
        "fuel",
        lambda r: {
            "fuel_percent_remaining": _percent(r.percent_remaining),
            "fuel_range_km": r.range,
            "fuel_amount_liters": r.amount_remaining,
        },
    ),
    (
        "/battery",
        "battery",
        lambda r: {"battery_percent_remaining": _percent(r.percent_remaining), "battery_range_km": r.range},
    ),
    ("/charge", "charge", lambda r: {"charge_state": r.state, "is_plugged_in": r.is_plugged_in}),
    ("/engine/oil", "engine_oil", lambda r: {"oil_life_remaining": _percent(r.life_remaining)}),
    (
        "/tires/pressure",
        "tire_pressure",
        lambda r: {
            "tire_pressure_kpa": {
                "frontLeft": r.front_left,
                "frontRight": r.front_right,
                "backLeft": r.back_left,
                "backRight": r.back_right,
            }
        },
    ),
    ("/security", "lock_status", lambda r: {"is_locked": r.is_locked}),
    ("/vin", "vin", lambda r: {"vin": r.vin}),
)


@dataclass(frozen=True)
class RefreshRun:
    vehicles: int
    seconds: float
    http_requests: int
    worker_cpu_seconds: float = 0.0
    simulator_cpu_seconds: float = 0.0
    machine_busy: float = 0.0  # fraction of all CPUs in use during the run
    batch_round_trips: Sequence[float] = ()

    @property
    def rate(self) -> float:
        return self.vehicles / self.seconds

    @property
    def requests_per_vehicle(self) -> float:
        return self.http_requests / self.vehicles


def create_vehicles(owner: AbstractBaseUser, owners: Sequence[Owner]) -> list[int]:
    """Each owner's car as the app knows it after Connect: every read permission, no data yet, VIN unknown.

    Created together, their ids are consecutive.
    """
    now = timezone.now()
    accounts = []
    for entry in owners:
        account = SmartcarAccount(
            owner=owner,
            smartcar_user_id=entry.user_id,
            mode=SmartcarAccount.Mode.SIMULATED,
            access_expires_at=now + timedelta(hours=2),
            refresh_expires_at=now + timedelta(days=50),
        )
        account.access_token = entry.access_token
        account.refresh_token = entry.refresh_token
        accounts.append(account)
    accounts = SmartcarAccount.objects.bulk_create(accounts)
    vehicles = Vehicle.objects.bulk_create(
        Vehicle(account=account, smartcar_id=entry.vehicle_id, permissions=READ_PERMISSIONS)
        for account, entry in zip(accounts, owners, strict=True)
    )
    return [vehicle.pk for vehicle in vehicles]


def vehicle_requests(simulator: Simulator, mark: int) -> int:
    return sum(1 for _, path, _ in simulator.requests_since(mark) if path.startswith("/v2.0/vehicles/"))


def refreshed(vehicle_ids: Sequence[int], since: datetime) -> int:
    # A range, not the list of ids: polled many times a second, this query must stay cheap.
    return Vehicle.objects.filter(
        pk__range=(min(vehicle_ids), max(vehicle_ids)), data_refreshed_at__gte=since
    ).count()


def run_app(simulator: Simulator, worker: CeleryWorker, vehicle_ids: Sequence[int]) -> RefreshRun:
    """Queue the beat task and wait until a fresh worker has stored new data for every vehicle."""
    with worker:
        mark = simulator.log_position()
        simulator_cpu, worker_cpu, machine_cpu = (
            simulator.cpu_seconds(),
            worker.cpu_seconds(),
            machine_cpu_times(),
        )
        since = timezone.now()
        started = time.perf_counter()
        tasks.refresh_connected_vehicles.delay()
        finished = wait_until(
            lambda: refreshed(vehicle_ids, since) == len(vehicle_ids),
            timeout=60 + len(vehicle_ids) / 5,
            what=f"the worker to refresh {len(vehicle_ids)} vehicles",
        )
        simulator_cpu = simulator.cpu_seconds() - simulator_cpu
        machine_busy = busy_fraction(machine_cpu, machine_cpu_times())
        stats = worker.stop()
    return RefreshRun(
        vehicles=len(vehicle_ids),
        seconds=finished - started,
        http_requests=vehicle_requests(simulator, mark),
        worker_cpu_seconds=stats.cpu_seconds - worker_cpu,
        simulator_cpu_seconds=simulator_cpu,
        machine_busy=machine_busy,
        batch_round_trips=stats.round_trips["/batch"],
    )


def run_official(simulator: Simulator, vehicle_ids: Sequence[int], *, batch: bool) -> RefreshRun:
    """The official package in a sequential loop: one request per data point, or its ``batch`` call."""
    # Imported here: the official package reads SMARTCAR_API_ORIGIN once, when it is first imported.
    import smartcar

    mark = simulator.log_position()
    started = time.perf_counter()
    for vehicle in Vehicle.objects.filter(pk__in=vehicle_ids).select_related("account").order_by("pk"):
        remote = smartcar.Vehicle(vehicle.smartcar_id, vehicle.account.access_token)
        # The package names each batch answer after the Vehicle method that reads it one at a time: calling
        # ``answers.odometer()`` sends a request on the Vehicle and unpacks a batch item on the batch result.
        answers = remote.batch([path for path, _, _ in OFFICIAL_READS]) if batch else remote
        for _, name, fields in OFFICIAL_READS:
            try:
                values = fields(getattr(answers, name)())
            except smartcar.SmartcarException:
                continue  # e.g. fuel on an electric car: Smartcar answers 501
            for field, value in values.items():
                setattr(vehicle, field, value)
        vehicle.data_refreshed_at = timezone.now()
        vehicle.save()
    return RefreshRun(
        vehicles=len(vehicle_ids),
        seconds=time.perf_counter() - started,
        http_requests=vehicle_requests(simulator, mark),
    )


def rows(app: RefreshRun, per_endpoint: RefreshRun, batch_loop: RefreshRun) -> list[Row]:
    per_endpoint_ratio = app.rate / per_endpoint.rate
    batch_ratio = app.rate / batch_loop.rate
    return [
        Row(
            BENCHMARK,
            f"App: one batch per vehicle, Celery worker ({RECOMMENDED_CONCURRENCY} threads), {app.vehicles:,} vehicles",
            f"{app.rate:.1f} vehicles/s ({app.seconds:.1f} s)",
        ),
        Row(
            BENCHMARK,
            f"Official package, one request per data point (measured on {per_endpoint.vehicles:,})",
            f"{per_endpoint.rate:.2f} vehicles/s ({app.vehicles / per_endpoint.rate:.0f} s for {app.vehicles:,})",
        ),
        Row(
            BENCHMARK,
            f"Official package, its batch call in a loop (measured on {batch_loop.vehicles:,})",
            f"{batch_loop.rate:.1f} vehicles/s ({app.vehicles / batch_loop.rate:.0f} s for {app.vehicles:,})",
        ),
        Row(
            BENCHMARK,
            "HTTP requests per vehicle, app / per data point / batch loop",
            f"{app.requests_per_vehicle:.2f} / {per_endpoint.requests_per_vehicle:.2f} / "
            f"{batch_loop.requests_per_vehicle:.2f}",
            "app: 1",
            app.http_requests == app.vehicles,
        ),
        Row(
            BENCHMARK,
            "Wall-time ratio, per-data-point loop / app",
            f"{per_endpoint_ratio:.1f}x",
            f">= {PER_ENDPOINT_TARGET}x",
            per_endpoint_ratio >= PER_ENDPOINT_TARGET,
        ),
        Row(BENCHMARK, "Wall-time ratio, batch loop / app", f"{batch_ratio:.1f}x"),
    ]


def diagnostics(app: RefreshRun) -> list[Row]:
    return [
        Row(
            "Diagnostics",
            f"Batch round trip seen by the app's worker (median; {API_LATENCY_MS} ms injected)",
            f"{median_ms(app.batch_round_trips):.0f} ms",
        ),
        Row(
            "Diagnostics",
            "CPU per refreshed vehicle: app worker (fan-out + refresh) / simulator",
            f"{app.worker_cpu_seconds / app.vehicles * 1000:.1f} / "
            f"{app.simulator_cpu_seconds / app.vehicles * 1000:.1f} ms",
        ),
    ]
