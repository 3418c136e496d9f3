"""The benchmarks in order, against one running simulator; imported once Django is set up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

from django_smartcar.conf import smartcar_settings

from . import app_token, findings, fleet, month, refresh, rest_api, rotation, webhooks
from .network import free_port
from .report import Row, database_version, progress
from .simulator import Owner, Simulator
from .sizes import Size
from .web_server import WebServer
from .worker import RECOMMENDED_CONCURRENCY, CeleryWorker


@dataclass(frozen=True)
class Outcome:
    rows: list[Row]
    setup: list[str]
    notes: list[str]


def run_all(simulator: Simulator, owners: Sequence[Owner], size: Size, folder: Path) -> Outcome:
    """Run everything, in an order where no benchmark's accounts are due when another one runs."""
    site_user = get_user_model().objects.create_user("bench-site-user")
    loop_owners, owners = owners[: size.rotation_loop], owners[size.rotation_loop :]
    small_owners, owners = owners[: size.rotation_small], owners[size.rotation_small :]
    large_owners, owners = owners[: size.rotation_large], owners[size.rotation_large :]
    refresh_owners, owners = owners[: size.refresh], owners[size.refresh :]
    fleet_owners, month_owners = owners[: size.fleet], owners[size.fleet : size.fleet + size.month]

    keep_alive_ms = simulator.round_trip_ms(keep_alive=True)
    new_connection_ms = simulator.round_trip_ms(keep_alive=False)

    simulator.set_latency(token_ms=rotation.TOKEN_LATENCY_MS)
    progress(f"1. Rotation: official package loop on {len(loop_owners):,} accounts")
    loop = rotation.run_official(simulator, rotation.create_accounts(site_user, loop_owners))
    progress(f"1. Rotation: app on {len(small_owners):,} accounts")
    small = rotation.run_app(
        simulator, CeleryWorker(folder, "rotation-small"), rotation.create_accounts(site_user, small_owners)
    )
    progress(f"1. Rotation: app on {len(large_owners):,} accounts")
    large = rotation.run_app(
        simulator, CeleryWorker(folder, "rotation-large"), rotation.create_accounts(site_user, large_owners)
    )

    simulator.set_latency(api_ms=refresh.API_LATENCY_MS)
    vehicle_ids = refresh.create_vehicles(site_user, refresh_owners)
    progress(f"2. Refresh: app on {len(vehicle_ids):,} vehicles")
    app_refresh = refresh.run_app(simulator, CeleryWorker(folder, "refresh"), vehicle_ids)
    progress(f"2. Refresh: official package, per data point, on {size.refresh_per_endpoint_loop:,} vehicles")
    per_endpoint = refresh.run_official(simulator, vehicle_ids[: size.refresh_per_endpoint_loop], batch=False)
    progress(f"2. Refresh: official package, batch loop, on {size.refresh_batch_loop:,} vehicles")
    batch_loop = refresh.run_official(simulator, vehicle_ids[: size.refresh_batch_loop], batch=True)
    simulator.set_latency()

    cases = rest_api.prepare([1, size.api_vehicles])
    load = {"duration": size.load_seconds, "warmup": size.load_warmup, "connections": size.load_connections}
    with WebServer(free_port(), folder / "gunicorn.log") as server:
        progress(f"3. REST API under gunicorn ({server.workers} sync workers)")
        api_rows = rest_api.run(server, cases, **load)
        progress("4. Webhook intake under gunicorn")
        webhook_run = webhooks.run(server, **load, in_process_events=size.in_process_events, folder=folder)
        workers = server.workers
    purge_queued_tasks()

    fleet_ids = refresh.create_vehicles(site_user, fleet_owners)
    fleet_result = fleet.run(folder, simulator, fleet_ids, size)
    token_result = app_token.run(folder, simulator, size)

    month_ids = refresh.create_vehicles(site_user, month_owners)
    progress(f"6. Month: {len(month_ids):,} vehicles, a virtual month of adaptive polling")
    month_result = month.run(simulator, month_ids, size.month_days)

    rows = [
        *rotation.rows(small, large, loop),
        *refresh.rows(app_refresh, per_endpoint, batch_loop),
        *api_rows,
        *webhooks.rows(webhook_run),
        *fleet.rows(fleet_result),
        *month.rows(month_result),
        *rotation.diagnostics(large),
        *refresh.diagnostics(app_refresh),
        *rest_api.diagnostics(cases),
        *webhooks.diagnostics(webhook_run),
        Row(
            "Diagnostics",
            "Simulator round trip (health check, median), kept-alive connection / new connection",
            f"{keep_alive_ms:.1f} / {new_connection_ms:.1f} ms",
        ),
        *app_token.rows(token_result),
    ]
    notes = (
        fleet.notes(fleet_result)
        + findings.notes(
            findings.Measurements(
                small, large, loop, app_refresh, per_endpoint, webhook_run, keep_alive_ms, new_connection_ms
            )
        )
        + findings.month_notes(month_result)
    )
    return Outcome(rows, setup_lines(size, workers), notes)


def run_webhooks_only(size: Size, folder: Path) -> Outcome:
    """``--only webhooks``: benchmark 4 alone (no simulator, no Celery worker), with its diagnostics and note."""
    load = {"duration": size.load_seconds, "warmup": size.load_warmup, "connections": size.load_connections}
    with WebServer(free_port(), folder / "gunicorn.log") as server:
        progress(f"4. Webhook intake under gunicorn ({server.workers} sync workers)")
        webhook_run = webhooks.run(server, **load, in_process_events=size.in_process_events, folder=folder)
        workers = server.workers
    purge_queued_tasks()
    rows = [*webhooks.rows(webhook_run), *webhooks.diagnostics(webhook_run)]
    setup = [
        line for line in setup_lines(size, workers) if line.startswith(("App:", "REST API and webhooks"))
    ]
    return Outcome(rows, setup, findings.webhook_notes(webhook_run))


def purge_queued_tasks() -> None:
    """With ``WEBHOOK_DISPATCH_INTERVAL = None`` the receiver queued a task per event; no worker runs them here."""
    from .celery_app import app

    app.control.purge()


def setup_lines(size: Size, gunicorn_workers: int) -> list[str]:
    broker = settings.CELERY_BROKER_URL.split("://", 1)[0].capitalize()
    return [
        "Smartcar: the standalone simulator (`python -m django_smartcar.simulator`: one process, a thread per "
        "connection, SQLite in WAL mode) on 127.0.0.1. Its `latency` fault delays the token endpoint by "
        f"{rotation.TOKEN_LATENCY_MS} ms (benchmark 1) and the vehicle API by {refresh.API_LATENCY_MS} ms "
        "(benchmark 2).",
        f"App: {database_version()} (`CONN_MAX_AGE=60`), Celery broker {broker}. Each app run gets a fresh "
        f"`celery worker --pool threads --concurrency {RECOMMENDED_CONCURRENCY}` process (the README's "
        "recommendation; `CELERY_DB_REUSE_MAX=1000` so that Celery keeps its database connections), and the "
        "beat task is queued to it; the time runs from queueing it to the last account or vehicle stored. "
        f"Rotation's beat queues chunk tasks of {smartcar_settings.ROTATION_CHUNK_SIZE} accounts, each keeping "
        f"up to {smartcar_settings.ROTATION_MAX_IN_FLIGHT} token exchanges in flight (`ROTATION_MAX_IN_FLIGHT`; "
        "the app's default is 50, see benchmarks/settings.py for why not here).",
        f"Sizes: rotation {size.rotation_small:,} then {size.rotation_large:,} accounts (app) and "
        f"{size.rotation_loop:,} (official package); refresh {size.refresh:,} vehicles (app), "
        f"{size.refresh_per_endpoint_loop:,} and {size.refresh_batch_loop:,} (official package). The loops are "
        "sequential, so they are measured on a subset; rates are per account or vehicle, so the ratios hold.",
        f"REST API and webhooks: gunicorn with {gunicorn_workers} sync workers; load from "
        f"`python -m benchmarks.load` in its own process, {size.load_connections} connections, "
        f"{size.load_seconds:g} s measured after {size.load_warmup:g} s of warm-up. The list is the API's first "
        "page (50 vehicles); users sign in with a session cookie. Webhooks: "
        + (
            "`WEBHOOK_DISPATCH_INTERVAL = None`, the receiver queues a Celery task per event (nothing runs them)."
            if smartcar_settings.WEBHOOK_DISPATCH_INTERVAL is None
            else f"`WEBHOOK_DISPATCH_INTERVAL` {smartcar_settings.WEBHOOK_DISPATCH_INTERVAL.total_seconds():g} s "
            "(the production path: the receiver stores, the dispatcher processes afterwards)."
        ),
        "Counted, not estimated: SQL queries through `connection.execute_wrapper` (in the worker's threads, the "
        "loop's thread, or Django's test client for the API); HTTP requests from the simulator's access log; "
        "accounts lost = stored refresh tokens the simulator no longer accepts; memory is the worker process's "
        "peak resident set (`VmHWM`).",
    ]
