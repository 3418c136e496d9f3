"""Each vehicle's monthly request budget: the ledger of billed requests, checked before anything is sent.

Smartcar bills every data and command request, per vehicle per month (plans cap them, e.g. 500: about 16 a day),
and answers ``430 BILLING:VEHICLE_REQUEST_LIMIT`` past the cap. The app counts as Smartcar does: each item of a
v2 batch, each V3 signals read, each command (``billed_requests``). ``reserve`` counts a request in
``VehicleRequestUsage`` before it is sent, with one conditional UPDATE, so concurrent workers never pass the cap
together; ``give_back`` undoes it when Smartcar refused the request unbilled (``is_unbilled``).

Two kinds of use share the budget: ``SCHEDULED`` (polling, connect-time reads, retries) may use all but
``USER_RESERVED_SHARE`` of it; ``USER`` (a person's refresh, a command) may use all of it. A refusal is
``BudgetExhausted`` (the REST API answers it 429 with the time until the month ends).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from .. import client, signals
from ..conf import smartcar_settings
from ..exceptions import BudgetExhausted
from ..models import SmartcarAccount, Vehicle, VehicleRequestUsage

SCHEDULED = "scheduled"
USER = "user"
KINDS = (SCHEDULED, USER)
_FIELDS = {SCHEDULED: "scheduled", USER: "by_user"}


def month_of(now: datetime) -> date:
    """The billing month (UTC) ``now`` falls in, as its first day."""
    utc = now.astimezone(dt_timezone.utc)
    return date(utc.year, utc.month, 1)


def next_month_start(now: datetime) -> datetime:
    start = month_of(now)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return datetime(year, month, 1, tzinfo=dt_timezone.utc)


def seconds_left_in_month(now: datetime) -> float:
    return max((next_month_start(now) - now).total_seconds(), 1.0)


def monthly_limit() -> int | None:
    value = smartcar_settings.MONTHLY_REQUESTS_PER_VEHICLE
    return None if value is None else int(value)


def limit_for(kind: str) -> int | None:
    """What ``kind`` may use of a vehicle's month: everything for people, all but the reserved share for polling."""
    limit = monthly_limit()
    if limit is None or kind == USER:
        return limit
    return math.floor(limit * (1 - float(smartcar_settings.USER_RESERVED_SHARE)))


def billed_requests(account: SmartcarAccount, paths: Iterable[str]) -> int:
    """What one read of ``paths`` is billed: one V3 signals request, or one per item of a v2 batch."""
    if account.api_version == SmartcarAccount.ApiVersion.V3:
        return 1
    return len(client.batch_paths(paths))


def is_unbilled(exc: client.SmartcarException) -> bool:
    """Whether Smartcar refused the request before billing it: never sent, a token refused (401), the vehicle
    unknown to it (404), a rate limit (429) or the billing limit itself (430)."""
    if isinstance(exc, client.SmartcarConnectionError) and not exc.request_sent:
        return True
    return exc.status_code in (401, 404, 429, 430)


def _usage_row(vehicle_id: int, month: date) -> VehicleRequestUsage:
    row = VehicleRequestUsage.objects.filter(vehicle_id=vehicle_id, month=month).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return VehicleRequestUsage.objects.create(vehicle_id=vehicle_id, month=month)
    except IntegrityError:  # another process created it first
        return VehicleRequestUsage.objects.get(vehicle_id=vehicle_id, month=month)


def reserve(vehicle: Vehicle, billed: int, kind: str, *, now: datetime | None = None) -> bool:
    """Count ``billed`` requests of ``kind`` for the vehicle's month if they fit its budget; False if they do not
    (nothing counted). Atomic: one conditional UPDATE, whatever the number of workers."""
    if billed <= 0:
        return True
    now = now or timezone.now()
    month = month_of(now)
    field = _FIELDS[kind]
    rows = VehicleRequestUsage.objects.filter(vehicle_id=vehicle.pk, month=month)
    limit = limit_for(kind)
    if limit is not None:
        # scheduled + by_user + billed <= limit, written so that it is one WHERE clause on the row.
        rows = rows.filter(scheduled__lte=Value(limit - billed) - F("by_user"))
    if not rows.update(**{field: F(field) + billed}):
        if VehicleRequestUsage.objects.filter(vehicle_id=vehicle.pk, month=month).exists():
            return False  # the month's row is there: the requests do not fit
        _usage_row(vehicle.pk, month)  # the vehicle's first request this month
        if not rows.update(**{field: F(field) + billed}):
            return False
    _warn_when_nearing(vehicle, month)
    return True


def record(vehicle: Vehicle, billed: int, kind: str, *, now: datetime | None = None) -> None:
    """Count requests already sent, whatever the budget says (identifying a vehicle at Connect: it has no row,
    and so no budget, until Smartcar has answered)."""
    if billed <= 0:
        return
    row = _usage_row(vehicle.pk, month_of(now or timezone.now()))
    field = _FIELDS[kind]
    VehicleRequestUsage.objects.filter(pk=row.pk).update(**{field: F(field) + billed})
    _warn_when_nearing(vehicle, row.month)


def ensure_allowed(vehicle: Vehicle, billed: int, kind: str, *, now: datetime | None = None) -> None:
    """``reserve``, raising ``BudgetExhausted`` when the requests do not fit."""
    now = now or timezone.now()
    if not reserve(vehicle, billed, kind, now=now):
        raise BudgetExhausted(vehicle, kind, math.ceil(seconds_left_in_month(now)))


def give_back(vehicle: Vehicle, billed: int, kind: str, *, now: datetime | None = None) -> None:
    """Undo a ``reserve`` for requests Smartcar did not bill (``is_unbilled``)."""
    if billed <= 0:
        return
    field = _FIELDS[kind]
    VehicleRequestUsage.objects.filter(vehicle_id=vehicle.pk, month=month_of(now or timezone.now())).update(
        **{field: Greatest(F(field) - billed, Value(0))}
    )


def _warn_when_nearing(vehicle: Vehicle, month: date) -> None:
    limit = monthly_limit()
    if not limit:
        return
    threshold = math.ceil(limit * float(smartcar_settings.BUDGET_WARNING_THRESHOLD))
    # The first UPDATE past the threshold flips ``warned``: the signal is sent once a month, by one process.
    crossed = VehicleRequestUsage.objects.filter(
        vehicle_id=vehicle.pk, month=month, warned=False, scheduled__gte=Value(threshold) - F("by_user")
    ).update(warned=True)
    if crossed:
        used = VehicleRequestUsage.objects.get(vehicle_id=vehicle.pk, month=month).total
        transaction.on_commit(
            partial(
                signals.vehicle_budget_nearing.send,
                sender=Vehicle,
                vehicle=vehicle,
                used=used,
                limit=limit,
                month=month,
            )
        )


@dataclass(frozen=True)
class Usage:
    """A vehicle's month so far, as the admin and the API show it."""

    month: date
    scheduled: int
    by_user: int
    limit: int | None

    @property
    def used(self) -> int:
        return self.scheduled + self.by_user

    @property
    def share_used(self) -> float | None:
        return None if not self.limit else self.used / self.limit

    def describe(self) -> str:
        if self.limit is None:
            return f"{self.used} requests this month (no limit)"
        return f"{self.used} of {self.limit} requests this month ({self.share_used:.0%})"


USED_THIS_MONTH = "requests_used_this_month"


def with_usage(queryset: QuerySet[Vehicle], *, now: datetime | None = None) -> QuerySet[Vehicle]:
    """``queryset`` with each vehicle's billed requests this month as ``USED_THIS_MONTH``, in the same query
    (lists show every vehicle's use without a query per row)."""
    month_rows = VehicleRequestUsage.objects.filter(
        vehicle=OuterRef("pk"), month=month_of(now or timezone.now())
    )
    used = month_rows.annotate(used=F("scheduled") + F("by_user")).values("used")[:1]
    return queryset.annotate(**{USED_THIS_MONTH: Coalesce(Subquery(used), Value(0))})


def usage(vehicle: Vehicle, *, now: datetime | None = None) -> Usage:
    """The vehicle's month so far (the ``with_usage`` annotation when the vehicle has it, else one query)."""
    month = month_of(now or timezone.now())
    annotated = getattr(vehicle, USED_THIS_MONTH, None)
    if annotated is not None:
        return Usage(month, int(annotated), 0, monthly_limit())
    row = VehicleRequestUsage.objects.filter(vehicle_id=vehicle.pk, month=month).first()
    return Usage(month, row.scheduled if row else 0, row.by_user if row else 0, monthly_limit())


def polling_floor(vehicle_id: int, billed_per_poll: int, *, now: datetime) -> tuple[timedelta, bool] | None:
    """The interval that spends polling's remaining budget evenly over the rest of the month, and whether the
    vehicle is still under ``BUDGET_WARNING_THRESHOLD``; None without a plan. ``timedelta.max`` when not one more
    poll fits. One query."""
    limit, scheduled_limit = monthly_limit(), limit_for(SCHEDULED)
    if limit is None or scheduled_limit is None:
        return None
    row = VehicleRequestUsage.objects.filter(vehicle_id=vehicle_id, month=month_of(now)).first()
    used = row.total if row else 0
    relaxed = used < limit * float(smartcar_settings.BUDGET_WARNING_THRESHOLD)
    left = max(scheduled_limit - used, 0)
    if left < billed_per_poll:
        return timedelta.max, relaxed
    return timedelta(seconds=seconds_left_in_month(now) * billed_per_poll / left), relaxed
