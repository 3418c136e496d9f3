"""Benchmark 7: the site's API V3 application token, one for the whole site whatever the number of processes.

API V3 reaches every connection with one application token (an hour's client-credentials grant at IAM,
``POST /oauth2/token``). Each web and worker process holds its own copy; they share the token through the
``ApplicationToken`` row (``services.app_token``), so the site should ask IAM once an hour, not once per process.

V3 accounts of owners seeded for this benchmark (the simulator restarted with the application's API credentials)
are refreshed for a bounded time by two Celery worker processes (bulk and single-vehicle refresh tasks queued
over and over) while gunicorn serves the REST API's waiting refresh (``POST .../refresh/?async=0``) for a
signed-in user. IAM's requests are counted in the simulator's access log and in ``requests_made``.

A second run compresses the hour: its processes renew the token when ``lifetime`` seconds of it have been used
(``APP_TOKEN_RENEW_BEFORE`` = one hour minus that, through ``BENCH_APP_TOKEN_RENEW_BEFORE``), so every process
finds it due over and over; the site should still make about one request per (compressed) lifetime.
"""

from __future__ import annotations

import math
import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import requests
from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.test import Client

from django_smartcar import tasks
from django_smartcar.models import ApplicationToken, SmartcarAccount, Vehicle

from . import simulator as simulator_module
from .credentials import API_CLIENT_ID, API_CLIENT_SECRET
from .network import free_port
from .refresh import READ_PERMISSIONS
from .report import Row, progress
from .simulator import Owner, Simulator
from .sizes import Size
from .web_server import WebServer
from .worker import CeleryWorker

BENCHMARK = "7. V3 application token"
IAM_TOKEN = ("POST", "/oauth2/token")
V3_VEHICLES = "/v3/vehicles/"
API = "/api/smartcar/vehicles/"
TOKEN_LIFETIME = 3600.0  # seconds, as IAM grants it
RENEW_BEFORE_ENV = "BENCH_APP_TOKEN_RENEW_BEFORE"
WORKERS = 2
WORKER_CONCURRENCY = 4  # threads per worker process: the machine's two cores are shared
WEB_CLIENTS = 2  # threads of this process sending the API's refreshes, one at a time each
QUEUE_INTERVAL = 1.0  # seconds between two rounds of queued refreshes
COMPRESSED_LIFETIME = 10.0  # seconds of the token used before the second run renews it (less in a tiny run)
# Owner indexes of this benchmark in the simulator: apart from those ``python -m benchmarks`` seeds first.
FIRST_OWNER = 7_000_000
CSRF_SECRET = secrets.token_hex(16)  # 32 characters: Django's CSRF cookie, echoed in the header


@dataclass(frozen=True)
class Phase:
    seconds: float
    processes: int  # worker processes + gunicorn workers, each with its own copy of the token
    iam_requests: int  # POST /oauth2/token in the simulator's log
    iam_refused: int  # of those, not answered 200
    stored_requests: int  # ApplicationToken.requests_made, added during the run
    v3_reads: int  # V3 vehicle requests the simulator answered 200 (workers and gunicorn)
    v3_refused: int
    api_statuses: dict[str, int]  # the REST API's answers to the refreshes
    lifetime: float  # seconds of the token used before it is renewed

    @property
    def lifetimes(self) -> float:
        return self.seconds / self.lifetime

    @property
    def lifetimes_begun(self) -> int:
        """The most IAM requests one site needs: one per lifetime begun, the first at the start (the earlier
        run's token is past the compressed lifetime); more would be processes asking for themselves."""
        return math.floor(self.lifetimes) + 1

    @property
    def api_ok(self) -> int:
        return self.api_statuses.get("200", 0)

    @property
    def api_total(self) -> int:
        return sum(self.api_statuses.values())

    @property
    def other_answers(self) -> str:
        """The API's answers other than 200, by status and error type (" (1 x 502 SMARTCAR_ERROR)"), or ""."""
        others = sorted((status, count) for status, count in self.api_statuses.items() if status != "200")
        if not others:
            return ""
        return " (" + ", ".join(f"{count} x {status}" for status, count in others) + ")"


@dataclass(frozen=True)
class Result:
    vehicles: int
    hour: Phase
    compressed: Phase


def run_seconds(size: Size) -> float:
    """20 s at full size, 5 s for the tiny run (the whole of ``make bench`` must stay under 10 minutes)."""
    return max(5.0, 2 * size.load_seconds)


def seed_v3_owners(simulator: Simulator, count: int) -> list[Owner]:
    """Owners connected to the application (what ``/v3/connections`` lists), the simulator restarted with its
    default options and the application's API credentials (without them it generates others)."""
    simulator.stop()
    owners = simulator_module.seed(simulator.database, count, first=FIRST_OWNER)
    simulator.restart(
        "--no-limits",
        "--no-traits",
        "--api-client-id",
        API_CLIENT_ID,
        "--api-client-secret",
        API_CLIENT_SECRET,
    )
    simulator.set_latency()  # no fault left by an earlier benchmark
    return owners


def create_v3_accounts(owners: Sequence[Owner]) -> tuple[list[int], str]:
    """As Connect V3 leaves them (``make_v3_account``): the Smartcar user id, no tokens, and the vehicles, all of
    one signed-in user; returns the vehicle ids and that user's session cookie."""
    user = get_user_model().objects.create_user("bench-v3-user")
    accounts = SmartcarAccount.objects.bulk_create(
        SmartcarAccount(
            owner=user,
            smartcar_user_id=owner.user_id,
            mode=SmartcarAccount.Mode.SIMULATED,
            api_version=SmartcarAccount.ApiVersion.V3,
        )
        for owner in owners
    )
    vehicles = Vehicle.objects.bulk_create(
        Vehicle(account=account, smartcar_id=owner.vehicle_id, permissions=READ_PERMISSIONS)
        for account, owner in zip(accounts, owners, strict=True)
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return [vehicle.pk for vehicle in vehicles], f"sessionid={client.cookies['sessionid'].value}"


def stored_requests() -> int:
    return ApplicationToken.objects.aggregate(total=Sum("requests_made"))["total"] or 0


def send_api_refreshes(
    base_url: str, vehicle_ids: Sequence[int], cookie: str, stop: threading.Event, statuses: Counter
) -> None:
    """The REST API's waiting refresh, vehicle after vehicle, until ``stop``: each one reads the car through
    API V3 in a gunicorn worker, with the site's token."""
    with requests.Session() as session:
        session.headers.update({"Cookie": f"{cookie}; csrftoken={CSRF_SECRET}", "X-CSRFToken": CSRF_SECRET})
        while not stop.is_set():
            for pk in vehicle_ids:
                if stop.is_set():
                    break
                try:
                    answer = session.post(f"{base_url}{API}{pk}/refresh/?async=0", timeout=30)
                    status = str(answer.status_code)
                    if answer.status_code != 200:
                        status += f" {error_type(answer)}"
                except requests.RequestException as exc:
                    status = f"no answer ({type(exc).__name__})"
                statuses[status] += 1


def error_type(answer: requests.Response) -> str:
    """The API error's ``type`` (and ``code``), what the row shows of an answer other than 200."""
    try:
        body = answer.json()
    except ValueError:
        return "(not JSON)"
    if not isinstance(body, dict):
        return "(not an error object)"
    return ":".join(str(body[key]) for key in ("type", "code") if body.get(key)) or "(no type)"


def queue_refreshes(vehicle_ids: Sequence[int], until: float) -> None:
    """Round after round until ``until``: one bulk refresh of every vehicle and one refresh task per vehicle."""
    while time.monotonic() < until:
        tasks.refresh_vehicles.delay(list(vehicle_ids), "interval")
        for pk in vehicle_ids:
            tasks.refresh_vehicle_data.delay(pk)
        time.sleep(max(0.0, min(QUEUE_INTERVAL, until - time.monotonic())))


def run_phase(
    folder: Path,
    simulator: Simulator,
    vehicle_ids: Sequence[int],
    cookie: str,
    *,
    name: str,
    seconds: float,
    lifetime: float = TOKEN_LIFETIME,
) -> Phase:
    """Two worker processes and gunicorn, started with the token renewed after ``lifetime`` seconds, driven for
    ``seconds``; then stopped and IAM's requests counted."""
    from .celery_app import app

    compressed = lifetime < TOKEN_LIFETIME
    if compressed:
        # Only the processes started now read it; this process's settings are loaded already.
        os.environ[RENEW_BEFORE_ENV] = f"{TOKEN_LIFETIME - lifetime:g}"
    tallies: list[Counter] = [Counter() for _ in range(WEB_CLIENTS)]  # one per thread, added up at the end
    stop = threading.Event()
    try:
        with ExitStack() as stack:
            for index in range(WORKERS):
                stack.enter_context(CeleryWorker(folder, f"app-token-{name}-{index}", WORKER_CONCURRENCY))
            server = stack.enter_context(WebServer(free_port(), folder / f"app-token-{name}-gunicorn.log"))
            processes = WORKERS + server.workers
            mark = simulator.log_position()
            stored_before = stored_requests()
            clients = [
                threading.Thread(
                    target=send_api_refreshes,
                    args=(server.base_url, vehicle_ids[index::WEB_CLIENTS], cookie, stop, tallies[index]),
                )
                for index in range(WEB_CLIENTS)
            ]
            started = time.monotonic()
            for thread in clients:
                thread.start()
            try:
                queue_refreshes(vehicle_ids, started + seconds)
            finally:
                stop.set()
                for thread in clients:
                    thread.join()
                app.control.purge()
        # The processes' whole time (stopped, their tasks killed, before the count): what they asked IAM meanwhile
        # is counted, nothing asks it after.
        elapsed = time.monotonic() - started
    finally:
        os.environ.pop(RENEW_BEFORE_ENV, None)
        app.control.purge()
    answered = simulator.requests_since(mark)
    iam = [status for method, path, status in answered if (method, path) == IAM_TOKEN]
    reads = [status for method, path, status in answered if path.startswith(V3_VEHICLES)]
    return Phase(
        seconds=elapsed,
        processes=processes,
        iam_requests=len(iam),
        iam_refused=sum(1 for status in iam if status != 200),
        stored_requests=stored_requests() - stored_before,
        v3_reads=sum(1 for status in reads if status == 200),
        v3_refused=sum(1 for status in reads if status != 200),
        api_statuses=dict(sum(tallies, Counter())),
        lifetime=lifetime,
    )


def run(folder: Path, simulator: Simulator, size: Size) -> Result:
    count = 2 * size.load_connections
    seconds = run_seconds(size)
    progress(f"7. V3 application token: seeding {count:,} V3 owners, restarting the simulator")
    vehicle_ids, cookie = create_v3_accounts(seed_v3_owners(simulator, count))
    progress(f"7. V3 application token: {WORKERS} workers and gunicorn for {seconds:g} s")
    hour = run_phase(folder, simulator, vehicle_ids, cookie, name="hour", seconds=seconds)
    lifetime = min(COMPRESSED_LIFETIME, seconds / 2)
    progress(f"7. V3 application token: the same, the token renewed every {lifetime:g} s")
    compressed = run_phase(
        folder, simulator, vehicle_ids, cookie, name="compressed", seconds=seconds, lifetime=lifetime
    )
    return Result(count, hour, compressed)


def rows(result: Result) -> list[Row]:
    hour, compressed = result.hour, result.compressed
    per_lifetime = compressed.iam_requests / compressed.lifetimes
    return [
        Row(
            BENCHMARK,
            f"IAM token requests in {hour.seconds:.0f} s, {WORKERS} Celery workers ({WORKER_CONCURRENCY} threads) "
            f"refreshing {result.vehicles:,} V3 vehicles and gunicorn ({hour.processes - WORKERS} workers) serving "
            "API refreshes: simulator log / `ApplicationToken.requests_made`",
            f"{hour.iam_requests} / {hour.stored_requests}",
            "1 / 1 (1 per hour per site)",
            hour.iam_requests == hour.stored_requests == 1 and not hour.iam_refused,
        ),
        Row(
            BENCHMARK,
            "V3 work on that token: vehicle reads answered 200 (workers and API) / refused; "
            "API refreshes answered 200 / sent",
            f"{hour.v3_reads:,} / {hour.v3_refused}; {hour.api_ok:,} / {hour.api_total:,}{hour.other_answers}",
            "reads > 0, none refused, all 200",
            hour.v3_reads > 0
            and not hour.v3_refused
            and hour.api_total > 0
            and hour.api_ok == hour.api_total,
        ),
        Row(
            BENCHMARK,
            f"Renewal across {compressed.processes} processes, token renewed after {compressed.lifetime:g} s "
            f"(`APP_TOKEN_RENEW_BEFORE` {TOKEN_LIFETIME - compressed.lifetime:g} s), {compressed.seconds:.0f} s: "
            "IAM requests (`requests_made`) per lifetime",
            f"{compressed.iam_requests} ({compressed.stored_requests}) / {compressed.lifetimes:.1f} = "
            f"{per_lifetime:.2f}; {compressed.v3_reads:,} V3 reads, {compressed.api_ok:,} / "
            f"{compressed.api_total:,} API 200{compressed.other_answers}",
            f"~1: renewed, at most 1 per lifetime begun ({compressed.lifetimes_begun}), "
            f"not 1 per process ({compressed.processes * compressed.lifetimes_begun})",
            2 <= compressed.iam_requests <= compressed.lifetimes_begun
            and compressed.iam_requests == compressed.stored_requests
            and not compressed.iam_refused
            and compressed.v3_reads > 0
            and compressed.api_total > 0
            and compressed.api_ok == compressed.api_total,
        ),
    ]
