"""Benchmark 3: the REST API's vehicle list and detail under load, for a user with 1 and with 1,000 vehicles.

Requests come from another process (``benchmarks.load``) to gunicorn, signed in with a session cookie as a
browser or app client would be. SQL queries per request are counted in this process with Django's test client
on the same code; they must not grow with the number of vehicles.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from django_smartcar.models import SmartcarAccount, Vehicle

from .measure import QueryCounter
from .report import Row
from .web_server import LoadResult, WebServer

BENCHMARK = "3. REST API"
API = "/api/smartcar/vehicles/"
IN_PROCESS_REQUESTS = 20


@dataclass(frozen=True)
class Case:
    name: str
    vehicles: int
    path: str
    cookie: str
    queries: int
    cpu_ms: float


def user_with_vehicles(username: str, count: int) -> tuple[Client, int]:
    """A signed-in client for a new user whose one account has ``count`` vehicles with data; and one vehicle id."""
    user = get_user_model().objects.create_user(username)
    now = timezone.now()
    account = SmartcarAccount(
        owner=user,
        smartcar_user_id=f"{username}-smartcar-user",
        mode=SmartcarAccount.Mode.SIMULATED,
        access_expires_at=now + timedelta(hours=2),
        refresh_expires_at=now + timedelta(days=50),
    )
    # Offline rows: reading the API never calls Smartcar, so these tokens are never sent anywhere.
    account.access_token = "offline-access-token"
    account.refresh_token = "offline-refresh-token"
    account.save()
    vehicles = Vehicle.objects.bulk_create(
        Vehicle(
            account=account,
            smartcar_id=f"{username}-vehicle-{index}",
            vin=f"5YJ3E1EA{index:09d}",
            make="TESLA",
            model="Model 3",
            year=2022,
            permissions=[
                "read_vehicle_info",
                "read_odometer",
                "read_location",
                "read_battery",
                "read_security",
            ],
            odometer_km=12_000.0 + index,
            odometer_age=now,
            latitude=37.77,
            longitude=-122.42,
            location_age=now,
            battery_percent_remaining=76.0,
            battery_range_km=310.0,
            battery_age=now,
            is_locked=True,
            lock_age=now,
            data_refreshed_at=now,
        )
        for index in range(count)
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client, vehicles[0].pk


def get(client: Client, path: str) -> None:
    response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}: {response.content[:300]!r}")


def queries_per_request(client: Client, path: str) -> int:
    counter = QueryCounter()
    with counter.count_this_thread():
        get(client, path)
    return counter.count


def cpu_ms_per_request(client: Client, path: str, requests: int = IN_PROCESS_REQUESTS) -> float:
    """The view's own CPU cost, through Django's test client: no HTTP server, no load generator."""
    gc.collect()  # so that a collection of earlier garbage does not land in the timed loop
    started = time.process_time()
    for _ in range(requests):
        get(client, path)
    return (time.process_time() - started) / requests * 1000


def prepare(sizes: Sequence[int]) -> list[Case]:
    cases = []
    for count in sizes:
        client, vehicle_pk = user_with_vehicles(f"api-user-{count}", count)
        cookie = f"sessionid={client.cookies['sessionid'].value}"
        for name, path in (("list", API), ("detail", f"{API}{vehicle_pk}/")):
            queries = queries_per_request(client, path)
            cases.append(Case(name, count, path, cookie, queries, cpu_ms_per_request(client, path)))
    return cases


def diagnostics(cases: Sequence[Case]) -> list[Row]:
    return [
        Row(
            "Diagnostics",
            "REST API through Django's test client, CPU per request: "
            + " / ".join(f"{case.name} ({case.vehicles:,})" for case in cases),
            " / ".join(f"{case.cpu_ms:.1f}" for case in cases) + " ms",
        )
    ]


def run(
    server: WebServer, cases: Sequence[Case], *, duration: float, warmup: float, connections: int
) -> list[Row]:
    results: list[tuple[Case, LoadResult]] = [
        (
            case,
            server.load(
                case.path, duration=duration, warmup=warmup, connections=connections, cookie=case.cookie
            ),
        )
        for case in cases
    ]
    rows = [
        Row(
            BENCHMARK,
            f"GET {case.name}, user with {case.vehicles:,} vehicle{'s' if case.vehicles != 1 else ''}",
            (
                f"{result.requests_per_second:,.0f} req/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, "
                if result.p50_ms is not None and result.p99_ms is not None
                else "no request completed in the measured window, "
            )
            + f"{case.queries} SQL queries",
            "all 200",
            result.ok == result.requests and not result.errors,
        )
        for case, result in results
    ]
    for name in ("list", "detail"):
        counts = sorted({case.queries for case in cases if case.name == name})
        rows.append(
            Row(
                BENCHMARK,
                f"SQL queries per {name} request, 1 vs {max(c.vehicles for c in cases):,} vehicles",
                " / ".join(str(case.queries) for case in cases if case.name == name),
                "constant",
                len(counts) == 1,
            )
        )
    return rows
