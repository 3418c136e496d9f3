"""Refreshing many vehicles at once: hundreds of Smartcar requests in flight from one worker thread.

Smartcar's vehicle requests take 3-45 s (up to 300 s), so a refresh is almost all waiting. ``refresh_vehicles``
builds each vehicle's ONE read (``AccountApi.prepare_read``: a v2 batch or a V3 signals request) and sends them
through ``client.aio.send_all``: an event loop in a thread of its own keeps up to ``BULK_MAX_IN_FLIGHT`` requests
waiting on Smartcar, while this thread stores each answer as it arrives with the same rules as a single refresh
(``vehicles.store_reading`` / ``vehicles.record_read_failure``: newer data wins, budget given back when
unbilled, next poll set). Memory follows the number in flight, not the number of vehicles.

Before anything is sent each vehicle's read is counted in its monthly budget (``budget.reserve``: over budget,
it is not read) and in the application's rate limit (``pacing.take``): what the bucket cannot grant now is
returned as ``deferred``, with the wait, for the task to queue again later. No worker sleeps.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from .. import client
from ..client.aio import send_all
from ..conf import smartcar_settings
from ..exceptions import DjangoSmartcarError
from ..models import Vehicle
from . import budget, pacing, polling
from .clients import PreparedRead, account_api, get_timeouts
from .vehicles import record_read_failure, refreshable_paths, store_reading

logger = logging.getLogger(__name__)

POLL = "poll"


@dataclass
class BulkReport:
    """What one bulk refresh did, by vehicle id."""

    read: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    # Not read: not refreshable any more, nothing to read, already read since (a redelivered poll), out of budget.
    skipped: list[int] = field(default_factory=list)
    # Not sent yet: the application's rate limit has no room before ``retry_in`` seconds.
    deferred: list[int] = field(default_factory=list)
    retry_in: float = 0.0

    def summary(self) -> dict[str, int]:
        return {
            "read": len(self.read),
            "failed": len(self.failed),
            "skipped": len(self.skipped),
            "deferred": len(self.deferred),
        }


@dataclass(frozen=True)
class _Planned:
    vehicle: Vehicle
    paths: list[str]
    billed: int
    kind: str


# Vehicles loaded and planned at a time: with the requests in flight, what a task holds in memory, whatever the
# size of its chunk.
PLAN_BATCH = 200


def refresh_vehicles(
    vehicle_ids: Iterable[int],
    *,
    reason: str = POLL,
    kind: str = budget.SCHEDULED,
    now: datetime | None = None,
) -> BulkReport:
    """Read every vehicle of ``vehicle_ids`` that can be read now, many requests in flight; see the module."""
    now = now or timezone.now()
    report = BulkReport()
    for (item, read), answer in send_all(
        _requests(list(vehicle_ids), reason=reason, kind=kind, now=now, report=report),
        max_in_flight=int(smartcar_settings.BULK_MAX_IN_FLIGHT),
        timeouts=get_timeouts(),
    ):
        _store(item, read, answer, report)
    if report.deferred:
        report.retry_in = pacing.seconds_until(len(report.deferred), now=now)
    logger.info("Bulk refresh (%s): %s", reason, report.summary())
    return report


def _requests(
    vehicle_ids: list[int], *, reason: str, kind: str, now: datetime, report: BulkReport
) -> Iterator[tuple[tuple[_Planned, PreparedRead], client.PreparedRequest]]:
    """The requests to send, planned ``PLAN_BATCH`` vehicles at a time as ``send_all`` asks for more: each
    vehicle's budget reserved, then the application's bucket asked for the batch; what it cannot grant is
    deferred (its budget given back), and so is everything after it."""
    for start in range(0, len(vehicle_ids), PLAN_BATCH):
        planned = _plan(
            vehicle_ids[start : start + PLAN_BATCH], reason=reason, kind=kind, now=now, report=report
        )
        granted = pacing.take(len(planned), now=now) if not report.deferred else 0
        for item in planned[granted:]:
            budget.give_back(item.vehicle, item.billed, item.kind, now=now)
            report.deferred.append(item.vehicle.pk)
        yield from _prepared(planned[:granted], report)


def _plan(
    vehicle_ids: Iterable[int], *, reason: str, kind: str, now: datetime, report: BulkReport
) -> list[_Planned]:
    planned = []
    vehicles = Vehicle.objects.select_related("account").filter(pk__in=list(vehicle_ids)).order_by("pk")
    for vehicle in vehicles:
        if not vehicle.is_connected or not vehicle.account.is_usable:
            report.skipped.append(vehicle.pk)
            continue
        if reason == POLL and not polling.is_due(vehicle, now):
            report.skipped.append(vehicle.pk)  # read since it was queued (a redelivered task)
            continue
        paths = refreshable_paths(vehicle, now)
        if not paths:
            polling.after_read(vehicle, polling.PARKED, now=now)
            report.skipped.append(vehicle.pk)
            continue
        billed = budget.billed_requests(vehicle.account, paths)
        if not budget.reserve(vehicle, billed, kind, now=now):
            polling.after_read(vehicle, polling.BUDGET, billed_per_poll=billed, now=now)
            report.skipped.append(vehicle.pk)
            continue
        planned.append(_Planned(vehicle, paths, billed, kind))
    return planned


def _prepared(
    planned: list[_Planned], report: BulkReport
) -> Iterator[tuple[tuple[_Planned, PreparedRead], client.PreparedRequest]]:
    """Each vehicle's request, built as it is about to be sent (a V2 access token is then at its freshest)."""
    for item in planned:
        try:
            read = account_api(item.vehicle.account).prepare_read(item.vehicle, item.paths)
        except (client.SmartcarException, DjangoSmartcarError) as exc:
            # The account's token could not be renewed, the site's application token could not be had...
            logger.warning("Vehicle pk=%s not refreshed: %s", item.vehicle.pk, type(exc).__name__)
            budget.give_back(item.vehicle, item.billed, item.kind)
            report.failed.append(item.vehicle.pk)
            continue
        yield (item, read), read.request


def _store(
    item: _Planned,
    read: PreparedRead,
    answer: client.ApiResponse | client.SmartcarException,
    report: BulkReport,
) -> None:
    """One vehicle's answer, stored in its own transaction: one vehicle's failure never loses another's data."""
    vehicle = item.vehicle
    try:
        with transaction.atomic():
            if isinstance(answer, client.SmartcarException):
                record_read_failure(vehicle, answer, billed=item.billed, kind=item.kind)
                report.failed.append(vehicle.pk)
                return
            previous_odometer = vehicle.odometer_km
            store_reading(
                vehicle, read.parse(answer), billed=item.billed, previous_odometer=previous_odometer
            )
            report.read.append(vehicle.pk)
    except Exception:
        # One vehicle's answer that cannot be stored (malformed, a bug) must not stop the rest of the fleet.
        logger.exception("Vehicle pk=%s: its answer could not be stored", vehicle.pk)
        report.failed.append(vehicle.pk)
