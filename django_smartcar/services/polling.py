"""Adaptive polling: when beat reads each vehicle next, from what the app knows of it.

Every read (a poll, a person's refresh) ends with ``after_read``, which sets ``Vehicle.next_poll_at``:

* by the car's state: faster while charging or driving, slower while parked (``POLL_INTERVALS``);
* backed off on failure: ``ASLEEP`` and ``UNREACHABLE`` (and other failures) double the wait at each one in a
  row up to ``POLL_INTERVAL_MAX``; ``RATE_LIMIT`` waits for Smartcar's Retry-After. The scheduler waits: no worker
  sleeps, the vehicle is simply not due;
* never faster than the month's remaining polling budget allows, spread over the month's remaining time (half
  that while under ``BUDGET_WARNING_THRESHOLD``, so polling can follow a charge and still last the month); when
  polling's share is spent, not before next month (people keep their reserved share);
* webhooks first: data delivered by a webhook (unbilled) is fresh for ``WEBHOOK_FRESH_FOR``, and the vehicle is
  not polled meanwhile (``after_webhook``). Polling fills the gaps webhooks leave.

``dispatch_due`` (beat, every ``POLL_DISPATCH_INTERVAL``) hands the due vehicles to bulk refresh tasks, no more
than the application's rate limit lets through now, and leases them (``QUEUED``) so that the next round does
not queue them again while they wait for a worker; a lease that runs out (a lost task) makes them due again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.db.models import F, Q
from django.utils import timezone

from .. import client
from ..conf import DEFAULTS, smartcar_settings
from ..exceptions import BudgetExhausted
from ..models import USABLE_STATUSES, Vehicle
from . import budget, pacing

logger = logging.getLogger(__name__)

CHARGING, DRIVING, PARKED = "charging", "driving", "parked"
ASLEEP, UNREACHABLE, FAILED = "asleep", "unreachable", "failed"
RATE_LIMITED, BUDGET, WEBHOOK, QUEUED = "rate limited", "budget", "webhook", "queued"
# Failures whose wait doubles at each one in a row.
BACKED_OFF = (ASLEEP, UNREACHABLE, FAILED)
# How long a dispatched vehicle is not dispatched again while its task waits for a worker.
QUEUED_LEASE = timedelta(minutes=15)


def interval_for(state: str) -> timedelta:
    """``POLL_INTERVALS[state]``, the default for a state the project's dict leaves out."""
    configured = smartcar_settings.POLL_INTERVALS
    interval: timedelta = configured.get(state) or DEFAULTS["POLL_INTERVALS"][state]
    return interval


def state_after_failure(exc: Exception) -> str:
    """What a failed read says of the car: asleep, unreachable, rate limited, out of budget, or just failed."""
    if isinstance(exc, BudgetExhausted):
        return BUDGET
    if isinstance(exc, client.SmartcarException):
        if exc.type == "RATE_LIMIT" or exc.status_code == 429:
            return RATE_LIMITED
        if exc.type == "VEHICLE_STATE":
            return ASLEEP if exc.code == "ASLEEP" else UNREACHABLE
    return FAILED


def state_after_reading(
    vehicle: Vehicle,
    *,
    read_anything: bool,
    errors: list[client.SmartcarException],
    previous_odometer: float | None,
) -> str:
    """What a read says of the car: nothing read because of its state (asleep...), charging, driving (its
    odometer moved since the last read), else parked."""
    if not read_anything and errors:
        return state_after_failure(errors[0])
    if (vehicle.charge_state or "").upper() == "CHARGING":
        return CHARGING
    if (
        previous_odometer is not None
        and vehicle.odometer_km is not None
        and vehicle.odometer_km > previous_odometer
    ):
        return DRIVING
    return PARKED


def after_read(
    vehicle: Vehicle,
    state: str,
    *,
    billed_per_poll: int = 1,
    retry_after: float | None = None,
    now: datetime | None = None,
) -> datetime:
    """Set when the vehicle is polled next, after a read that left it in ``state``; returns that time."""
    now = now or timezone.now()
    failures = vehicle.poll_failures + 1 if state in BACKED_OFF and vehicle.poll_reason == state else 0
    if state == RATE_LIMITED:
        wait = timedelta(seconds=retry_after) if retry_after else interval_for(UNREACHABLE)
    elif state == BUDGET:
        wait = budget.next_month_start(now) - now
    else:
        wait = interval_for(state) * (2 ** min(failures, 16))
        wait = min(wait, max(smartcar_settings.POLL_INTERVAL_MAX, interval_for(state)))
    floor = (
        budget.polling_floor(vehicle.pk, billed_per_poll, now=now)
        if state not in (RATE_LIMITED, BUDGET)
        else None
    )
    if floor is not None:
        spread, relaxed = floor
        if spread == timedelta.max:
            state, wait = BUDGET, budget.next_month_start(now) - now
        else:
            wait = max(wait, spread / 2 if relaxed else spread)
    vehicle.next_poll_at, vehicle.poll_reason, vehicle.poll_failures = now + wait, state, failures
    Vehicle.objects.filter(pk=vehicle.pk).update(
        next_poll_at=vehicle.next_poll_at, poll_reason=state, poll_failures=failures
    )
    return vehicle.next_poll_at


def after_webhook(vehicle: Vehicle, *, now: datetime | None = None) -> None:
    """Data arrived by webhook: no poll while it is fresh (an earlier poll already planned is pushed back)."""
    now = now or timezone.now()
    fresh_until = now + smartcar_settings.WEBHOOK_FRESH_FOR
    Vehicle.objects.filter(pk=vehicle.pk).filter(
        Q(next_poll_at__isnull=True) | Q(next_poll_at__lt=fresh_until)
    ).update(next_poll_at=fresh_until, poll_reason=WEBHOOK, poll_failures=0)


def due_vehicle_ids(*, now: datetime | None = None, limit: int | None = None) -> Iterator[int]:
    """Connected vehicles of usable accounts due for a poll, the longest overdue first (never polled: first)."""
    now = now or timezone.now()
    queryset = (
        Vehicle.objects.filter(is_connected=True, account__status__in=USABLE_STATUSES)
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .order_by(F("next_poll_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)
    )
    if limit is not None:
        queryset = queryset[:limit]
    yield from queryset.iterator(chunk_size=int(smartcar_settings.FANOUT_CHUNK_SIZE))


def is_due(vehicle: Vehicle, now: datetime) -> bool:
    """Whether a poll task should still read the vehicle (a redelivered task skips those read meanwhile)."""
    return vehicle.next_poll_at is None or vehicle.next_poll_at <= now or vehicle.poll_reason == QUEUED


def claim_due(*, now: datetime | None = None) -> list[int]:
    """The vehicles to poll this round, leased: at most what the application's rate limit grants now."""
    now = now or timezone.now()
    room = pacing.available(now=now)
    if room is not None:
        # Vehicles queued by an earlier round and not read yet will take their requests from the same bucket.
        room = max(room - Vehicle.objects.filter(poll_reason=QUEUED, next_poll_at__gt=now).count(), 0)
    ids = list(due_vehicle_ids(now=now, limit=room))
    if ids:
        Vehicle.objects.filter(pk__in=ids).update(next_poll_at=now + QUEUED_LEASE, poll_reason=QUEUED)
    return ids
