"""Refreshes asked for by people (a page, the admin, the API): queued, run by a worker, their outcome recorded.

No web request waits on a car: ``queue_refresh`` creates a ``pending`` ``VehicleRefresh`` row and queues the
Celery task; the worker reads the car (``services.vehicles.refresh_vehicle_data``, one batch request) and
records on the row what was read, what failed and why. Pages, the admin and the API show the row: pending,
then the outcome. Refreshes the app starts itself (on connect, beat) run without a row, as before.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from .. import client
from ..brands import display_make
from ..conf import smartcar_settings
from ..exceptions import DjangoSmartcarError, NotQueued
from ..models import SiteUser, Vehicle, VehicleRefresh
from . import budget, queueing
from .commands import ABANDONED, Failure, describe_failure
from .vehicles import RefreshResult, data_point_name, ensure_refreshable, failure_reason, refresh_vehicle_data

logger = logging.getLogger(__name__)

Status = VehicleRefresh.Status


def queue_refresh(vehicle: Vehicle, *, user: SiteUser | None = None) -> VehicleRefresh:
    """Create the pending refresh row and queue its Celery task; the request that asked returns at once.

    A vehicle ``ensure_refreshable`` refuses (disconnected, account to reconnect) is refused here, before any
    row exists. If the broker is down the row is marked failed (type ``NOT_QUEUED``) and ``NotQueued`` is
    raised (``.refresh`` is the row): nothing is left ``pending`` with no message to complete it.
    """
    from .. import tasks  # tasks imports the services: imported here, when first needed

    ensure_refreshable(vehicle)
    refresh = create_refresh(vehicle, user=user)
    queueing.publish(
        lambda: tasks.refresh_vehicle_data.delay(vehicle.pk, refresh.pk),
        what="refresh",
        on_failure=lambda: _record_not_queued(refresh),
    )
    return refresh


def create_refresh(vehicle: Vehicle, *, user: SiteUser | None = None) -> VehicleRefresh:
    """The pending row, made the vehicle's ``last_refresh`` unless a later one was asked for meanwhile."""
    with transaction.atomic():
        refresh = VehicleRefresh.objects.create(vehicle=vehicle, requested_by=user)
        latest = Vehicle.objects.filter(pk=vehicle.pk).filter(
            Q(last_refresh__isnull=True) | Q(last_refresh__requested_at__lte=refresh.requested_at)
        )
        if latest.update(last_refresh=refresh):
            vehicle.last_refresh = refresh
    return refresh


def execute_queued_refresh(vehicle_id: int, refresh_id: int) -> RefreshResult | None:
    """What a worker does with a queued refresh row: read the car and record the outcome on the row.

    Returns ``None`` when nothing was sent: the row is gone or no longer pending (a redelivered task, or one
    marked abandoned), or the vehicle is refused now (recorded as the failure). A Smartcar failure of the whole
    request is raised for the task to retry (the row stays pending) or to record with ``record_failure``.
    """
    refresh = (
        VehicleRefresh.objects.select_related("vehicle__account")
        .filter(pk=refresh_id, vehicle_id=vehicle_id)
        .first()
    )
    if refresh is None or refresh.status != Status.PENDING:
        return None
    try:
        result = refresh_vehicle_data(refresh.vehicle, kind=budget.USER)
    except client.SmartcarException:
        raise
    except DjangoSmartcarError as exc:
        _finish(refresh_id, failure=describe_failure(exc))
        return None
    record_result(refresh_id, result)
    return result


def describe_errors(result: RefreshResult, *, make: str = "") -> list[dict[str, str | None]]:
    """Each data point a refresh could not read, as stored on its row and answered by the API (``make``: the
    car's, for a car maker account issue)."""
    errors: list[dict[str, str | None]] = []
    for path, exc in result.errors.items():
        failure = describe_failure(exc, make=make)
        errors.append(
            {
                "path": path,
                "data_point": data_point_name(path),
                "reason": failure_reason(exc),
                "type": failure.type,
                "code": failure.code or None,
                "detail": failure.message,
            }
        )
    return errors


def record_result(refresh_id: int, result: RefreshResult) -> None:
    """Record a finished refresh: succeeded unless nothing at all could be read (``RefreshResult.failed``)."""
    errors = describe_errors(result)
    first = describe_failure(next(iter(result.errors.values()))) if result.failed else None
    if first is not None:
        # People read the short reasons ("fuel: rate limited"), the API also gets Smartcar's type and code.
        # Smartcar's message for the owner, when it sent one, follows them.
        suggested = f". {result.suggested_user_message}" if result.suggested_user_message else ""
        first = Failure(first.type, first.code, f"could not read {result.describe_failures()}{suggested}")
    _finish(
        refresh_id,
        failure=first,
        updated=result.updated,
        not_capable=result.not_capable,
        errors=errors,
    )


def record_failure(refresh_id: int, exc: Exception) -> None:
    """Record that the refresh failed as a whole (the batch request itself failed, and is not retried)."""
    make = VehicleRefresh.objects.filter(pk=refresh_id).values_list("vehicle__make", flat=True).first()
    _finish(refresh_id, failure=describe_failure(exc, make=display_make(make or "")))


def _finish(
    refresh_id: int,
    *,
    failure: Failure | None,
    updated: list[str] | None = None,
    not_capable: list[str] | None = None,
    errors: list[dict[str, str | None]] | None = None,
) -> None:
    # A conditional UPDATE: an outcome already recorded (abandoned meanwhile) is never overwritten.
    done = VehicleRefresh.objects.filter(pk=refresh_id, status=Status.PENDING).update(
        status=Status.FAILED if failure is not None else Status.SUCCEEDED,
        completed_at=timezone.now(),
        updated=updated or [],
        not_capable=not_capable or [],
        errors=errors or [],
        error_type=(failure.type if failure else "")[:50],
        error_code=(failure.code if failure else "")[:50],
        error_message=failure.message if failure else "",
    )
    if done:
        logger.info("Vehicle refresh %s: %s", refresh_id, "failed" if failure is not None else "succeeded")


def _record_not_queued(refresh: VehicleRefresh) -> VehicleRefresh:
    _finish(refresh.pk, failure=describe_failure(NotQueued("refresh")))
    refresh.refresh_from_db()
    return refresh


def fail_abandoned_refreshes(now: datetime | None = None) -> int:
    """Mark failed the refreshes still pending ``COMMAND_ABANDONED_AFTER`` after they were asked for (their task
    was lost, or its worker stopped), so that no page shows "Refreshing..." for ever. Returns how many."""
    requested_before = (now or timezone.now()) - smartcar_settings.COMMAND_ABANDONED_AFTER
    pending: QuerySet[VehicleRefresh] = VehicleRefresh.objects.filter(
        status=Status.PENDING, requested_at__lte=requested_before
    )
    failed = pending.update(
        status=Status.FAILED,
        completed_at=timezone.now(),
        error_type=ABANDONED,
        error_code="no_outcome",
        error_message="No worker completed this refresh in time (its task was lost or its worker stopped).",
    )
    if failed:
        logger.warning("Marked %s abandoned vehicle refresh(es) failed", failed)
    return failed
