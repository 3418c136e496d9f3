"""Benchmark 1: rotating the refresh tokens of accounts near expiry.

The app: the beat task ``rotate_expiring_tokens`` claims the due accounts and queues one
``rotate_accounts_tokens`` per ``ROTATION_CHUNK_SIZE`` accounts, executed by a Celery worker with 16 threads,
each task keeping up to ``ROTATION_MAX_IN_FLIGHT`` token exchanges in flight on one event loop. The baseline: a hand-written loop
on the official ``smartcar`` package, one ``exchange_refresh_token`` per account, sequential, one save each.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from django_smartcar import tasks
from django_smartcar.models import SmartcarAccount

from . import credentials
from .measure import (
    QueryCounter,
    busy_fraction,
    cpu_by_process,
    cpu_used_since,
    machine_cpu_times,
    median_ms,
    process_cpu_seconds,
    wait_until,
)
from .report import Row
from .simulator import Owner, Simulator
from .worker import RECOMMENDED_CONCURRENCY, CeleryWorker

BENCHMARK = "1. Token rotation"
TOKEN_LATENCY_MS = 100
SPEED_UP_TARGET = 10
# Inside the rotation window (10 days) even after the largest per-account jitter (2 days).
NEAR_EXPIRY = timedelta(days=1)
# A worker process's resident memory wobbles by a few percent (allocator arenas, garbage awaiting collection).
FLAT_MEMORY_MARGIN = 0.10
POLL_INTERVAL = 0.1


@dataclass(frozen=True)
class RotationRun:
    accounts: int
    seconds: float
    queries: int
    token_requests: int
    lost: int
    peak_rss_bytes: int | None = None
    worker_cpu_seconds: float = 0.0
    simulator_cpu_seconds: float = 0.0
    machine_busy: float = 0.0  # fraction of all CPUs in use during the run
    database_cpu_seconds: float = 0.0  # PostgreSQL's backends serving this benchmark's database
    benchmark_cpu_seconds: float = 0.0  # this process: queueing the beat task, polling for the end
    token_round_trips: Sequence[float] = ()

    @property
    def rate(self) -> float:
        return self.accounts / self.seconds


def create_accounts(owner: AbstractBaseUser, owners: Sequence[Owner]) -> list[int]:
    """One account per simulated owner, holding that owner's real tokens, refresh token near expiry.

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
            refresh_expires_at=now + NEAR_EXPIRY,
        )
        account.access_token = entry.access_token
        account.refresh_token = entry.refresh_token
        accounts.append(account)
    return [account.pk for account in SmartcarAccount.objects.bulk_create(accounts)]


def rotated(account_ids: Sequence[int], since: datetime) -> int:
    # A range, not the list of ids: polled many times a second, this query must stay cheap.
    return SmartcarAccount.objects.filter(
        pk__range=(min(account_ids), max(account_ids)),
        status=SmartcarAccount.Status.ACTIVE,
        last_refreshed_at__gte=since,
        rotation_queued_at__isnull=True,
    ).count()


def lost_accounts(simulator: Simulator, account_ids: Sequence[int]) -> int:
    """Accounts whose stored refresh token Smartcar would refuse: each one means its user must reconnect."""
    stored = [account.refresh_token for account in SmartcarAccount.objects.filter(pk__in=account_ids)]
    return len(account_ids) - simulator.live_refresh_tokens(stored)


def token_requests(simulator: Simulator, mark: int) -> int:
    return sum(
        1 for method, path, _ in simulator.requests_since(mark) if (method, path) == ("POST", "/oauth/token")
    )


def run_app(simulator: Simulator, worker: CeleryWorker, account_ids: Sequence[int]) -> RotationRun:
    """Queue the beat task and wait until a fresh worker has rotated every account."""
    with worker:
        mark = simulator.log_position()
        simulator_cpu, worker_cpu, machine_cpu = (
            simulator.cpu_seconds(),
            worker.cpu_seconds(),
            machine_cpu_times(),
        )
        database_cpu, benchmark_cpu = cpu_by_process(is_database_backend), process_cpu_seconds(os.getpid())
        since = timezone.now()
        started = time.perf_counter()
        tasks.rotate_expiring_tokens.delay()
        finished = wait_until(
            lambda: rotated(account_ids, since) == len(account_ids),
            timeout=60 + len(account_ids) / 5,
            what=f"the worker to rotate {len(account_ids)} accounts",
            # Each poll is a COUNT in PostgreSQL and an ORM query here, on the cores the run shares: every 20 ms
            # they took a noticeable share of 2 cores; 0.1 s adds at most 0.1 s to a run of tens of seconds.
            interval=POLL_INTERVAL,
        )
        simulator_cpu = simulator.cpu_seconds() - simulator_cpu
        machine_busy = busy_fraction(machine_cpu, machine_cpu_times())
        database_cpu = cpu_used_since(database_cpu, cpu_by_process(is_database_backend))
        benchmark_cpu = process_cpu_seconds(os.getpid()) - benchmark_cpu
        stats = worker.stop()
    return RotationRun(
        accounts=len(account_ids),
        seconds=finished - started,
        queries=stats.queries,
        token_requests=token_requests(simulator, mark),
        lost=lost_accounts(simulator, account_ids),
        peak_rss_bytes=stats.peak_rss_bytes,
        worker_cpu_seconds=stats.cpu_seconds - worker_cpu,
        simulator_cpu_seconds=simulator_cpu,
        machine_busy=machine_busy,
        database_cpu_seconds=database_cpu,
        benchmark_cpu_seconds=benchmark_cpu,
        token_round_trips=stats.round_trips["/oauth/token"],
    )


def is_database_backend(command: str) -> bool:
    """A PostgreSQL backend serving the benchmark's database (``postgres: 15/main: user dbname host state``)."""
    name = settings.DATABASES["default"]["NAME"]
    return command.startswith("postgres:") and f" {name} " in command


def cpu_shares(run: RotationRun) -> dict[str, float]:
    """Where the machine's CPU went during an app run, in ms per account: the worker, the simulator, PostgreSQL
    for this database, the benchmark's own process, and everything else (Redis, the kernel's share not charged
    to a process, and whatever else runs on the machine)."""
    cores = os.cpu_count() or 1
    machine = run.machine_busy * cores * run.seconds
    shares = {
        "worker": run.worker_cpu_seconds,
        "simulator": run.simulator_cpu_seconds,
        "PostgreSQL": run.database_cpu_seconds,
        "benchmark": run.benchmark_cpu_seconds,
    }
    shares["everything else"] = max(0.0, machine - sum(shares.values()))
    return {name: seconds / run.accounts * 1000 for name, seconds in shares.items()}


def run_official(simulator: Simulator, account_ids: Sequence[int]) -> RotationRun:
    """What a site writes without the app: the official package, one account after the other."""
    # Imported here: the official package reads SMARTCAR_AUTH_ORIGIN once, when it is first imported.
    import smartcar

    counter = QueryCounter()
    mark = simulator.log_position()
    with counter.count_this_thread():
        started = time.perf_counter()
        auth = smartcar.AuthClient(
            client_id=credentials.CLIENT_ID,
            client_secret=credentials.CLIENT_SECRET,
            redirect_uri=credentials.REDIRECT_URI,
            mode="simulated",
        )
        for account in SmartcarAccount.objects.filter(pk__in=account_ids).order_by("pk"):
            access = auth.exchange_refresh_token(account.refresh_token)
            account.access_token = access.access_token
            account.refresh_token = access.refresh_token
            # The official package returns naive UTC datetimes.
            account.access_expires_at = access.expiration.replace(tzinfo=dt_timezone.utc)
            account.refresh_expires_at = access.refresh_expiration.replace(tzinfo=dt_timezone.utc)
            account.last_refreshed_at = timezone.now()
            account.save()
        seconds = time.perf_counter() - started
    return RotationRun(
        accounts=len(account_ids),
        seconds=seconds,
        queries=counter.count,
        token_requests=token_requests(simulator, mark),
        lost=lost_accounts(simulator, account_ids),
    )


def rows(small: RotationRun, large: RotationRun, loop: RotationRun) -> list[Row]:
    ratio = large.rate / loop.rate
    app_requests = small.token_requests + large.token_requests
    app_accounts = small.accounts + large.accounts
    return [
        Row(
            BENCHMARK,
            f"App: beat fan-out to chunk tasks + Celery worker ({RECOMMENDED_CONCURRENCY} threads), "
            f"{large.accounts:,} accounts",
            f"{large.rate:.1f} accounts/s ({large.seconds:.1f} s)",
        ),
        Row(
            BENCHMARK,
            f"Official package, sequential loop (measured on {loop.accounts:,} accounts)",
            f"{loop.rate:.1f} accounts/s ({loop.seconds / loop.accounts * 1000:.0f} ms each)",
        ),
        Row(
            BENCHMARK,
            "Speed-up, app / loop",
            f"{ratio:.1f}x",
            f">= {SPEED_UP_TARGET}x",
            ratio >= SPEED_UP_TARGET,
        ),
        Row(
            BENCHMARK,
            "SQL queries per account, app / loop",
            f"{large.queries / large.accounts:.2f} / {loop.queries / loop.accounts:.2f}",
        ),
        Row(
            BENCHMARK,
            "Token requests per account, app / loop",
            f"{app_requests / app_accounts:.2f} / {loop.token_requests / loop.accounts:.2f}",
            "exactly 1",
            app_requests == app_accounts and loop.token_requests == loop.accounts,
        ),
        Row(
            BENCHMARK,
            "Accounts lost (stored refresh token refused), app / loop",
            f"{small.lost + large.lost} / {loop.lost}",
            "0",
            small.lost + large.lost + loop.lost == 0,
        ),
        Row(
            BENCHMARK,
            f"App worker's peak memory (RSS), {small.accounts:,} / {large.accounts:,} accounts",
            f"{mib(small.peak_rss_bytes)} / {mib(large.peak_rss_bytes)} MiB",
            f"flat (within {FLAT_MEMORY_MARGIN:.0%})",
            is_flat(small, large),
        ),
    ]


def is_flat(small: RotationRun, large: RotationRun) -> bool:
    """Ten times the accounts in a fresh worker must not need more memory than the small run, give or take."""
    return (large.peak_rss_bytes or 0) <= (small.peak_rss_bytes or 0) * (1 + FLAT_MEMORY_MARGIN)


def diagnostics(large: RotationRun) -> list[Row]:
    return [
        Row(
            "Diagnostics",
            f"Token round trip seen by the app's worker (median; {TOKEN_LATENCY_MS} ms injected)",
            f"{median_ms(large.token_round_trips):.0f} ms",
        ),
        Row(
            "Diagnostics",
            "CPU per rotated account: app worker (fan-out + rotation) / simulator",
            f"{large.worker_cpu_seconds / large.accounts * 1000:.1f} / "
            f"{large.simulator_cpu_seconds / large.accounts * 1000:.1f} ms",
        ),
        Row(
            "Diagnostics",
            f"Machine CPU per rotated account ({os.cpu_count()} cores, {large.machine_busy:.0%} busy): "
            + " / ".join(cpu_shares(large)),
            " / ".join(f"{ms:.1f}" for ms in cpu_shares(large).values()) + " ms",
        ),
    ]


def mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:.1f}"
