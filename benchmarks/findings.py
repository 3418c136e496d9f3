"""What ``results.md`` says below the table: each missed target with its measured cause, and known distortions.

Every sentence is built from numbers measured in the same run, and only written when its condition holds.
"""

from __future__ import annotations

import math
import os
import statistics
from collections import Counter
from dataclasses import dataclass

from django_smartcar.conf import smartcar_settings
from django_smartcar.services.polling import ASLEEP as ASLEEP_STATE

from .measure import median_ms
from .month import PLAN, MonthRun, dark_hours, spend_by_profile
from .month import RATIO_TARGET as MONTH_RATIO_TARGET
from .refresh import API_LATENCY_MS, PER_ENDPOINT_TARGET, RefreshRun
from .rotation import SPEED_UP_TARGET, TOKEN_LATENCY_MS, RotationRun, is_flat, mib
from .web_server import LoadResult
from .webhooks import RATIO_TARGET, WebhookRun
from .worker import RECOMMENDED_CONCURRENCY

# A kept-alive request this many times slower than a new connection is the server stalling, not the network.
KEEP_ALIVE_STALL_FACTOR = 5


@dataclass(frozen=True)
class Measurements:
    small: RotationRun
    large: RotationRun
    loop: RotationRun
    refresh: RefreshRun
    per_endpoint: RefreshRun
    webhooks: WebhookRun
    keep_alive_ms: float
    new_connection_ms: float


def concurrency_ceiling(loop_seconds_per_item: float, round_trip_ms: float) -> float:
    """The most the worker's requests in flight can gain over the loop, at the round trip they got."""
    return RECOMMENDED_CONCURRENCY * loop_seconds_per_item * 1000 / round_trip_ms


def where_the_time_went(
    *, round_trip_ms: float, injected_ms: int, simulator_cpu_ms: float, worker_cpu_ms: float, busy: float
) -> str:
    return (
        f"Each round trip took {round_trip_ms:.0f} ms (median) for {injected_ms} ms of injected latency; the "
        f"rest was spent in the simulator, which uses {simulator_cpu_ms:.1f} ms of CPU per request in one Python "
        f"process, and waiting for CPU beside the worker ({worker_cpu_ms:.1f} ms of CPU per item), PostgreSQL "
        f"and the benchmark, all on the same {os.cpu_count()} cores ({busy:.0%} busy during the run). The loop "
        "never has more than one request in flight, so it does not wait. Against Smartcar, the service's share "
        "would not run on these cores."
    )


def notes(m: Measurements) -> list[str]:
    found = []
    speed_up = m.large.rate / m.loop.rate
    if speed_up < SPEED_UP_TARGET:
        round_trip = median_ms(m.large.token_round_trips)
        loop_seconds = m.loop.seconds / m.loop.accounts
        found.append(
            f"**Rotation speed-up {speed_up:.1f}x (target {SPEED_UP_TARGET}x).** With "
            f"{RECOMMENDED_CONCURRENCY} token requests in flight the worker can beat the loop by at most "
            f"{RECOMMENDED_CONCURRENCY} x {loop_seconds * 1000:.0f} ms (the loop's time per account) / the round "
            f"trip: {concurrency_ceiling(loop_seconds, round_trip):.1f}x here, before the fan-out and the last "
            "stragglers. "
            + where_the_time_went(
                round_trip_ms=round_trip,
                injected_ms=TOKEN_LATENCY_MS,
                simulator_cpu_ms=m.large.simulator_cpu_seconds / m.large.accounts * 1000,
                worker_cpu_ms=m.large.worker_cpu_seconds / m.large.accounts * 1000,
                busy=m.large.machine_busy,
            )
        )
    per_endpoint_ratio = m.refresh.rate / m.per_endpoint.rate
    if per_endpoint_ratio < PER_ENDPOINT_TARGET:
        found.append(
            f"**Refresh ratio {per_endpoint_ratio:.1f}x (target {PER_ENDPOINT_TARGET}x).** "
            + where_the_time_went(
                round_trip_ms=median_ms(m.refresh.batch_round_trips),
                injected_ms=API_LATENCY_MS,
                simulator_cpu_ms=m.refresh.simulator_cpu_seconds / m.refresh.vehicles * 1000,
                worker_cpu_ms=m.refresh.worker_cpu_seconds / m.refresh.vehicles * 1000,
                busy=m.refresh.machine_busy,
            )
        )
    if not is_flat(m.small, m.large):
        found.append(
            f"**Worker memory.** Its peak RSS went from {mib(m.small.peak_rss_bytes)} MiB for "
            f"{m.small.accounts:,} accounts to {mib(m.large.peak_rss_bytes)} MiB for {m.large.accounts:,}."
        )
    if m.small.lost or m.large.lost or m.loop.lost:
        found.append(
            f"**Accounts lost.** {m.small.lost + m.large.lost} by the app and {m.loop.lost} by the loop: their "
            "stored refresh token is one the simulator no longer accepts."
        )
    w = m.webhooks
    if w.throughput_ratio > RATIO_TARGET or w.p99_ratio > RATIO_TARGET:
        cores = os.cpu_count() or 1

        def cpu_ms(result: LoadResult) -> float:
            return result.machine_busy * cores * 1000 / result.requests_per_second

        found.append(
            f"**Webhook intake: the bare view answered {w.throughput_ratio:.2f}x as many requests, and the "
            f"receiver's p99 was {w.p99_ratio:.2f}x the bare view's (target {RATIO_TARGET:g}x).** The machine's "
            f"{cores} cores were {w.receiver.machine_busy:.0%} and {w.bare.machine_busy:.0%} busy during the two "
            f"runs, so the server was bound by CPU: {cpu_ms(w.receiver):.1f} ms of CPU (every process together) "
            f"per accepted event against {cpu_ms(w.bare):.1f} ms per bare request. Through Django's test client, "
            "with no HTTP server, "
            f"the receiver itself costs {w.receiver_cpu_ms:.2f} ms of CPU per event against "
            f"{w.bare_cpu_ms:.2f} ms for the bare view: it checks the HMAC signature, parses the JSON, stores the "
            f"event with {w.receiver_queries:g} SQL statement(s) and publishes "
            "one Celery message for its processing, and PostgreSQL and Redis do their share of that work on the "
            "same cores."
        )
    if m.keep_alive_ms > KEEP_ALIVE_STALL_FACTOR * m.new_connection_ms:
        found.append(
            f"**The simulator stalls kept-alive connections.** Its health check answers in "
            f"{m.keep_alive_ms:.0f} ms on a kept-alive connection against {m.new_connection_ms:.1f} ms on a new "
            "one (Django's development server sends each answer in several small writes without TCP_NODELAY, so "
            "the client's delayed ACK holds the last one back). The app's pooled transport can pay this on every "
            "request to the simulator; the official package, which opens a new connection per request, does not. "
            "Real Smartcar is not affected."
        )
    return found


def month_notes(result: MonthRun) -> list[str]:
    """Benchmark 6: why the ratio to an hourly poll missed its target, and why budget-bound cars go unpolled."""
    found = []
    count = len(result.billed)
    mean = sum(result.billed.values()) / count
    per_read = sum(result.billed_per_read.values()) / count
    hourly = result.hours * per_read
    spends = spend_by_profile(result)
    if mean and hourly / mean < MONTH_RATIO_TARGET:
        costliest, (spend, profile_ratio) = max(spends.items(), key=lambda item: item[1][0])
        found.append(
            f"**Month: {hourly / mean:.1f}x fewer requests than an hourly poll (target "
            f"{MONTH_RATIO_TARGET:g}x).** The {costliest} vehicles spend the most, {spend:.0f} billed requests "
            f"each ({profile_ratio:.1f}x under an hourly poll): {spend / per_read:.0f} reads of {per_read:.1f} "
            "billed items each (a v2 batch is billed per item)."
        )
    dark = dark_hours(result)
    threshold = float(smartcar_settings.BUDGET_WARNING_THRESHOLD)
    polling_share = 1 - float(smartcar_settings.USER_RESERVED_SHARE)
    if dark and threshold >= polling_share:
        worst = max(dark, key=lambda name: statistics.fmean(dark[name]))
        reads = math.floor(PLAN * polling_share) / per_read
        found.append(
            f"**Month: {sum(len(hours) for hours in dark.values())} vehicle(s) spent polling's share before the "
            f"month's end and were not polled again** ({worst}: the last {statistics.fmean(dark[worst]):.0f} h "
            "on average). A v2 read is billed "
            f"{per_read:.1f} items, so polling's {polling_share:.0%} of the plan buys {reads:.0f} reads a month "
            f"(one every {result.hours / reads:.1f} h), fewer than a charging or driving car's interval asks "
            "for. `polling.after_read` then waits half the even spread while the vehicle's use is under "
            f"BUDGET_WARNING_THRESHOLD ({threshold:.0%}) of the whole plan, but polling alone can use only "
            f"{polling_share:.0%} of it (USER_RESERVED_SHARE): the faster pace never ends, and the remaining budget "
            "falls with the square of the month's remaining time until not one read fits. Reported, not changed: "
            "comparing the threshold with polling's own share (`budget.limit_for(SCHEDULED)`), or a threshold "
            "below that share, would end the faster pace while some budget is left to spread evenly over the "
            "rest of the month."
        )
    return found + sleeper_note(result)


def sleeper_note(result: MonthRun) -> list[str]:
    """Benchmark 6: reads answered ASLEEP that never back off (what after_read's rule says should happen)."""
    asleep = {name: counts[ASLEEP_STATE] for name, counts in result.outcomes.items() if counts[ASLEEP_STATE]}
    if not asleep or any(result.most_failures.get(name, 0) for name in asleep):
        return []
    reads = sum(asleep.values())
    per_read = sum(result.billed_per_read.values()) / len(result.billed_per_read)
    sleepers = result.by_profile().get("asleep", [])
    spent = sum(result.billed[pk] for pk in sleepers)
    sleeper_reads = result.outcomes.get("asleep", Counter())
    with_data = sleeper_reads.total() - sleeper_reads[ASLEEP_STATE]
    return [
        f"**Month: {reads} reads were answered ASLEEP and the backoff never engaged** (poll_failures stayed 0). "
        "`polling.after_read` doubles the wait only when `vehicle.poll_reason` already is the failure's state, "
        "but `polling.claim_due` leases every vehicle it hands out with `poll_reason = QUEUED`, so a polled "
        "vehicle's previous ASLEEP is never seen and each failure waits the base interval (or the budget's "
        f"spread). A v2 batch answered ASLEEP is billed per item ({per_read:.1f} here): the "
        f"{len(sleepers)} sleeping car(s) spent {spent} billed requests for {with_data} read(s) with data. An "
        "app bug, reported, not changed here: the count of failures in a row must survive the lease."
    ]
