"""Inside the benchmark's Celery worker: count its SQL queries and Smartcar round trips, written at shutdown.

Switched on by ``benchmarks.celery_app`` when ``BENCH_WORKER_STATS`` names the file to write. Nothing in the
app is changed: queries are counted by an ``execute_wrapper`` on every connection the task threads open, round
trips by a response hook on the app's shared transport and by a wrapper around ``AsyncTransport.send`` (the
transport of bulk work, rotation's included).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from celery.signals import worker_ready, worker_shutdown

from .measure import QueryCounter

STATS_ENV = "BENCH_WORKER_STATS"
# The requests whose round trip is recorded, by how their URL ends.
TIMED_URL_SUFFIXES = ("/oauth/token", "/batch")


def record_to(path: Path) -> None:
    counter = QueryCounter()
    round_trips: dict[str, list[float]] = {suffix: [] for suffix in TIMED_URL_SUFFIXES}

    def record_round_trip(response: Any, *args: Any, **kwargs: Any) -> None:
        for suffix, elapsed in round_trips.items():
            if response.url.endswith(suffix):
                elapsed.append(response.elapsed.total_seconds())

    def ready(**kwargs: Any) -> None:
        from django_smartcar.client.aio import AsyncTransport
        from django_smartcar.services.clients import get_transport

        counter.count_worker_threads()
        get_transport().session.hooks["response"].append(record_round_trip)
        send = AsyncTransport.send

        async def timed_send(transport: AsyncTransport, request: Any) -> Any:
            started = time.perf_counter()
            try:
                return await send(transport, request)
            finally:
                for suffix, elapsed in round_trips.items():
                    if request.url.endswith(suffix):
                        elapsed.append(time.perf_counter() - started)

        AsyncTransport.send = timed_send  # type: ignore[method-assign]
        path.write_text(json.dumps({"ready": True}))

    def shutdown(**kwargs: Any) -> None:
        path.write_text(json.dumps({"queries": counter.count, "round_trips": round_trips}))

    worker_ready.connect(ready, weak=False)
    worker_shutdown.connect(shutdown, weak=False)
