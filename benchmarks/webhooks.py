"""Benchmark 4: webhook intake, beside a bare Django view under the same gunicorn and the same load.

Every request is a unique v4 event signed like Smartcar's. The receiver verifies the signature and stores the
event once (with ``WEBHOOK_DISPATCH_INTERVAL = None``, it also queues a Celery task per event); the bare view only
reads the body and answers. The production path is then completed: the dispatcher (``dispatch_webhook_events``,
the beat task) processes everything the load stored, timed in this process as a worker would run it.
"""

from __future__ import annotations

import gc
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.test import Client

from django_smartcar.conf import smartcar_settings
from django_smartcar.models import WebhookEvent
from django_smartcar.services import webhooks as webhook_service

from .credentials import MANAGEMENT_TOKEN
from .load import signature, webhook_event
from .measure import QueryCounter
from .network import free_port
from .report import Row
from .web_server import LoadResult, WebServer

BENCHMARK = "4. Webhook intake"
RATIO_TARGET = 2.0
RECEIVER_PATH = f"/smartcar/webhooks/{settings.WEBHOOK_URL_ID}/"
BARE_PATH = "/bare/"
WARM_UP_EVENTS = 10
# benchmarks/settings.py: PostgreSQL connections that commit without waiting for the WAL flush (diagnostic only).
ASYNC_COMMIT_ENV = "BENCH_ASYNC_COMMIT"


def describe(result: LoadResult) -> str:
    if not result.requests:
        return "no answers"
    return (
        f"{result.requests_per_second:,.0f} events/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms"
    )


def in_process_cost(path: str, events: int) -> tuple[float, float, float]:
    """CPU milliseconds, wall milliseconds and SQL statements per event through Django's test client: the
    view's own cost, and (wall minus CPU) what it waits for, i.e. the database's answer and commit."""
    client = Client(HTTP_HOST="127.0.0.1")
    run_id = uuid.uuid4().hex[:12]

    def post(number: int) -> None:
        body = webhook_event(f"in-process-{run_id}-{number}")
        response = client.post(
            path, body, content_type="application/json", HTTP_SC_SIGNATURE=signature(MANAGEMENT_TOKEN, body)
        )
        if response.status_code != 200:
            raise RuntimeError(f"POST {path} answered {response.status_code}: {response.content[:300]!r}")

    for number in range(-WARM_UP_EVENTS, 0):  # first calls import and connect; not what is measured
        post(number)
    # Garbage from the earlier benchmarks is collected now rather than inside the timed loop.
    gc.collect()
    counter = QueryCounter()
    with counter.count_this_thread():
        started, wall_started = time.process_time(), time.perf_counter()
        for number in range(events):
            post(number)
        cpu, wall = time.process_time() - started, time.perf_counter() - wall_started
    return cpu / events * 1000, wall / events * 1000, counter.count / events


@dataclass(frozen=True)
class Dispatch:
    """One dispatcher round over what the load stored: events pending before, processed, failed, seconds."""

    pending: int
    processed: int
    failed: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.processed / self.seconds if self.seconds else 0.0


def dispatch_stored_events() -> Dispatch | None:
    """Run the beat task's service once, as the worker would; None when the receiver queues per event."""
    if smartcar_settings.WEBHOOK_DISPATCH_INTERVAL is None:
        return None
    pending = webhook_service.pending_events().count()
    started = time.perf_counter()
    outcome = webhook_service.dispatch_pending_events()
    seconds = time.perf_counter() - started
    return Dispatch(pending, outcome.processed, outcome.failed, seconds)


@dataclass(frozen=True)
class WebhookRun:
    receiver: LoadResult
    bare: LoadResult
    stored: int
    receiver_cpu_ms: float
    receiver_queries: float
    bare_cpu_ms: float
    bare_queries: float
    dispatch: Dispatch | None = None
    receiver_wall_ms: float = 0.0
    bare_wall_ms: float = 0.0
    # The receiver's load again with PostgreSQL's synchronous_commit off (None on SQLite): the durable commit's cost.
    undurable: LoadResult | None = None

    @property
    def queues_per_event(self) -> bool:
        return self.dispatch is None

    @property
    def throughput_ratio(self) -> float:
        if not self.receiver.requests:
            return float("inf")
        return self.bare.requests_per_second / self.receiver.requests_per_second

    @property
    def p99_ratio(self) -> float:
        return (self.receiver.p99_ms or float("inf")) / (self.bare.p99_ms or 1)


def run(
    server: WebServer,
    *,
    duration: float,
    warmup: float,
    connections: int,
    in_process_events: int,
    folder: Path | None = None,
) -> WebhookRun:
    load = {"duration": duration, "warmup": warmup, "connections": connections, "sign_with": MANAGEMENT_TOKEN}
    stored_before = WebhookEvent.objects.count()
    receiver = server.load(RECEIVER_PATH, **load)
    stored = WebhookEvent.objects.count() - stored_before
    dispatch = dispatch_stored_events()
    bare = server.load(BARE_PATH, **load)
    receiver_cpu_ms, receiver_wall_ms, receiver_queries = in_process_cost(RECEIVER_PATH, in_process_events)
    bare_cpu_ms, bare_wall_ms, bare_queries = in_process_cost(BARE_PATH, in_process_events)
    undurable = None
    if folder is not None and connection.vendor == "postgresql":
        undurable = load_without_durable_commit(folder, load, workers=server.workers)
    return WebhookRun(
        receiver,
        bare,
        stored,
        receiver_cpu_ms,
        receiver_queries,
        bare_cpu_ms,
        bare_queries,
        dispatch,
        receiver_wall_ms,
        bare_wall_ms,
        undurable,
    )


def load_without_durable_commit(folder: Path, load: dict, *, workers: int) -> LoadResult:
    """The receiver's load again, on a gunicorn whose connections commit without waiting for PostgreSQL's WAL
    flush (``synchronous_commit=off``): how much of the gap to the bare view the durable commit is.

    A diagnostic, never a setting: with it, a PostgreSQL crash would lose the last events already answered 200,
    and Smartcar does not deliver an answered event again.
    """
    os.environ[ASYNC_COMMIT_ENV] = "1"
    try:
        with WebServer(free_port(), folder / "gunicorn-async-commit.log", workers) as server:
            return server.load(RECEIVER_PATH, **load)
    finally:
        del os.environ[ASYNC_COMMIT_ENV]


def rows(run: WebhookRun) -> list[Row]:
    receiver = run.receiver
    return [
        Row(
            BENCHMARK,
            "Receiver: signed events accepted and stored",
            describe(receiver),
            "all 200",
            receiver.ok == receiver.requests and not receiver.errors,
        ),
        Row(BENCHMARK, "Bare Django view, same events", describe(run.bare)),
        Row(
            BENCHMARK,
            "Throughput ratio, bare view / receiver",
            f"{run.throughput_ratio:.2f}x",
            f"<= {RATIO_TARGET:g}x",
            run.throughput_ratio <= RATIO_TARGET,
        ),
        Row(
            BENCHMARK,
            "p99 latency ratio, receiver / bare view",
            f"{run.p99_ratio:.2f}x",
            f"<= {RATIO_TARGET:g}x",
            run.p99_ratio <= RATIO_TARGET,
        ),
        Row(
            BENCHMARK,
            "Events stored / accepted (warm-up included)",
            f"{run.stored:,} / {receiver.all_ok:,}",
            "equal",
            run.stored == receiver.all_ok,
        ),
        dispatch_row(run.dispatch),
    ]


def dispatch_row(dispatch: Dispatch | None) -> Row:
    measure = "Dispatcher (beat task, in the worker): stored events processed"
    if dispatch is None:
        return Row(BENCHMARK, measure, "not run: WEBHOOK_DISPATCH_INTERVAL is None (a Celery task per event)")
    return Row(
        BENCHMARK,
        measure,
        f"{dispatch.processed:,} / {dispatch.pending:,} in {dispatch.seconds:.1f} s "
        f"({dispatch.rate:,.0f} events/s)",
        "all, none failed",
        dispatch.processed == dispatch.pending and not dispatch.failed,
    )


def diagnostics(run: WebhookRun) -> list[Row]:
    found = [
        Row(
            "Diagnostics",
            "One event through Django's test client (no HTTP server), receiver / bare view",
            f"{run.receiver_cpu_ms:.2f} / {run.bare_cpu_ms:.2f} ms CPU, "
            f"{run.receiver_wall_ms:.2f} / {run.bare_wall_ms:.2f} ms wall, "
            f"{run.receiver_queries:g} / {run.bare_queries:g} SQL statements",
        )
    ]
    if run.undurable is not None:
        found.append(
            Row(
                "Diagnostics",
                "Receiver with PostgreSQL's synchronous_commit off (not durable: measures the commit's wait)",
                f"{describe(run.undurable)}; bare view / it {undurable_ratios(run)}",
            )
        )
    return found


def undurable_ratios(run: WebhookRun) -> str:
    undurable = run.undurable
    if undurable is None or not undurable.requests_per_second:
        return "n/a"
    throughput = run.bare.requests_per_second / undurable.requests_per_second
    p99 = (undurable.p99_ms or float("inf")) / (run.bare.p99_ms or 1)
    return f"{throughput:.2f}x throughput, p99 {p99:.2f}x"
