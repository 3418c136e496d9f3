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
from .rotation import SPEED_UP_TARGET, TOKEN_LATENCY_MS, RotationRun, cpu_shares, is_flat, mib
from .web_server import LoadResult
from .webhooks import RATIO_TARGET, WebhookRun

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


def rotation_note(large: RotationRun, loop: RotationRun, speed_up: float) -> str:
    """Why the app's rotation fell short: the CPU it needs per account (measured per process) against what
    the machine gave it, since with many exchanges in flight it never waits on the network as the loop does."""
    cores = os.cpu_count() or 1
    shares = cpu_shares(large)
    own = sum(ms for name, ms in shares.items() if name != "everything else")
    ceiling = cores * 1000 / own
    loop_ms = loop.seconds / loop.accounts * 1000
    return (
        f"**Rotation speed-up {speed_up:.1f}x (target {SPEED_UP_TARGET}x).** The loop takes {loop_ms:.0f} ms per "
        f"account, {TOKEN_LATENCY_MS} ms of it waiting on the token endpoint; the app keeps up to "
        f"ROTATION_MAX_IN_FLIGHT exchanges in flight per chunk task, so it is bound by CPU, not by waiting: the "
        f"machine's {cores} cores were {large.machine_busy:.0%} busy and its token round trip took "
        f"{median_ms(large.token_round_trips):.0f} ms (median). The machine's CPU per rotated account: "
        + ", ".join(f"{name} {ms:.1f} ms" for name, ms in shares.items())
        + " (everything else: Redis, kernel time charged to no process, and other work on the machine, which "
        f"this run does not control). The benchmark's own processes need {own:.1f} ms per account: "
        f"{ceiling:.0f} accounts/s at most with the {cores} cores to themselves ({ceiling / loop.rate:.1f}x this "
        f"loop's rate); the share everything else took left {large.rate:.1f}/s. Against Smartcar, the "
        "simulator's share would not run on these cores."
    )


def notes(m: Measurements) -> list[str]:
    found = []
    speed_up = m.large.rate / m.loop.rate
    if speed_up < SPEED_UP_TARGET:
        found.append(rotation_note(m.large, m.loop, speed_up))
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
    found.extend(webhook_notes(m.webhooks))
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


def webhook_notes(w: WebhookRun) -> list[str]:
    """The webhook intake's missed ratio, if any, with where its time went (measured in the same run)."""
    if w.throughput_ratio <= RATIO_TARGET and w.p99_ratio <= RATIO_TARGET:
        return []
    cores = os.cpu_count() or 1

    def cpu_ms(result: LoadResult) -> float:
        # No answer at all (a tiny run on a busy machine): no per-request figure, not a crash.
        if not result.requests_per_second:
            return float("inf")
        return result.machine_busy * cores * 1000 / result.requests_per_second

    publishes = (
        "publishes one Celery message for its processing (`WEBHOOK_DISPATCH_INTERVAL = None`)"
        if w.queues_per_event
        else "publishes nothing (the dispatcher processes the stored events later)"
    )
    note = (
        f"**Webhook intake: the bare view answered {w.throughput_ratio:.2f}x as many requests, and the "
        f"receiver's p99 was {w.p99_ratio:.2f}x the bare view's (target {RATIO_TARGET:g}x).** The machine's "
        f"{cores} cores were {w.receiver.machine_busy:.0%} and {w.bare.machine_busy:.0%} busy during the two "
        f"runs (other processes on the machine included): {cpu_ms(w.receiver):.1f} ms of CPU (every process "
        f"together) per accepted event against {cpu_ms(w.bare):.1f} ms per bare request. Through Django's test "
        f"client, with no HTTP server, the receiver costs {w.receiver_cpu_ms:.2f} ms of CPU and "
        f"{w.receiver_wall_ms:.2f} ms of wall time per event against {w.bare_cpu_ms:.2f} and "
        f"{w.bare_wall_ms:.2f} ms for the bare view: it checks the HMAC signature, parses the JSON, stores the "
        f"event with {w.receiver_queries:g} SQL statement(s) and {publishes}; the rest of its wall time is "
        "spent waiting, for the database to answer and commit and for a core (the bare view, which waits for "
        f"nothing, shows {max(w.bare_wall_ms - w.bare_cpu_ms, 0):.2f} ms of wall time beyond its CPU)."
    )
    undurable = w.undurable
    if undurable is not None and undurable.requests_per_second:
        ratio = w.bare.requests_per_second / undurable.requests_per_second
        p99 = (undurable.p99_ms or float("inf")) / (w.bare.p99_ms or 1)
        note += (
            f" The same load on connections that do not wait for PostgreSQL's WAL flush at commit "
            f"(`synchronous_commit=off`, a diagnostic) got {undurable.requests_per_second:,.0f} events/s with "
            f"p99 {undurable.p99_ms or 0:.1f} ms: {ratio:.2f}x and {p99:.2f}x the bare view's. "
            + _commit_share(ratio, p99, w, cpu_ms(w.receiver), cpu_ms(w.bare))
            + "The durable commit is kept: a 200 tells Smartcar the event is stored, and an asynchronous commit would lose the "
            "last events answered if PostgreSQL crashed (Smartcar does not deliver them again)."
        )
    return [note]


def _commit_share(ratio: float, p99: float, w: WebhookRun, receiver_cpu: float, bare_cpu: float) -> str:
    """What the diagnostic without the durable commit says of the gap, from its figures alone."""
    cpu_bound = (
        f"the rest is CPU: with the cores {w.receiver.machine_busy:.0%} busy, throughput follows CPU per "
        f"request, and the receiver's whole cost ({receiver_cpu:.1f} ms in every process together: the HMAC, the "
        f"JSON, its INSERT in the receiver's process and in PostgreSQL's) is {receiver_cpu / bare_cpu:.1f}x "
        "the bare view's. "
    )
    if ratio <= RATIO_TARGET and p99 <= RATIO_TARGET:
        return (
            "The durable commit is therefore the gap: each sync worker waits out the flush that makes its "
            "event safe before answering. "
        )
    if ratio < w.throughput_ratio:
        return (
            f"The durable commit is part of the gap ({w.throughput_ratio:.2f}x -> {ratio:.2f}x); {cpu_bound}"
        )
    return f"The durable commit is not the gap; {cpu_bound}"


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
    if dark:
        worst = max(dark, key=lambda name: statistics.fmean(dark[name]))
        polling_share = 1 - float(smartcar_settings.USER_RESERVED_SHARE)
        reads = math.floor(PLAN * polling_share) / per_read
        found.append(
            f"**Month: {sum(len(hours) for hours in dark.values())} vehicle(s) spent polling's share before the "
            f"month's end and were not polled again** ({worst}: the last {statistics.fmean(dark[worst]):.0f} h "
            f"on average). A v2 read is billed {per_read:.1f} items, so polling's {polling_share:.0%} of the plan "
            f"buys {reads:.0f} reads a month (one every {result.hours / reads:.1f} h), fewer than a charging or "
            "driving car's interval asks for; people's reserved share was still there for their refreshes."
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
        f"**Month: {reads} reads were answered ASLEEP and the back-off never engaged** (poll_failures stayed 0). "
        f"A v2 batch answered ASLEEP is billed per item ({per_read:.1f} here): the {len(sleepers)} sleeping "
        f"car(s) spent {spent} billed requests for {with_data} read(s) with data. `polling.after_read` should "
        "double the wait at each failure in a row (tests/app/test_polling.py)."
    ]
