"""Smartcar's limits and billing, simulated: the application's bucket, the per-vehicle throttle, the monthly
count of billed requests per vehicle.

Configured in ``SMARTCAR_SIMULATOR`` (defaults are Smartcar's published numbers where there are some)::

    SMARTCAR_SIMULATOR = {
        # 120 requests, refilling 2 a minute, per application [limits]; None turns it off.
        "APP_RATE_LIMIT": {"capacity": 120, "refill_per_minute": 2},
        # Smartcar does not publish its per-vehicle throttle; its advice is under 20 requests per vehicle an
        # hour [lat]. None turns it off.
        "VEHICLE_RATE_LIMIT": {"requests": 20, "window_seconds": 3600},
        # Billed requests per vehicle per calendar month (the plans' example: 500) [limits]; None: unlimited.
        "VEHICLE_MONTHLY_REQUEST_LIMIT": 500,
    }

What counts (see the README's simulator section): every Vehicle API request made with an access token or the
client's credentials takes one token from the application's bucket (``/user``, ``/vehicles``, a vehicle's
endpoints, a batch, ``/compatibility``); a vehicle's own requests (its endpoints, batch, permissions,
subscribe) count toward its throttle; only data and command endpoints are billed, each batch item as one.
The token endpoint, the management API, webhooks and the control API count nowhere. Checked in that order:
a throttled request is neither counted further nor billed.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from . import clock, errors, faults
from .defaults import LIMITS
from .models import RateBucket

# The one place of the defaults is ``defaults.LIMITS`` (the standalone command line reads it before Django).
DEFAULTS: dict[str, Any] = LIMITS


def setting(name: str) -> Any:
    configured = faults.simulator_settings()
    return configured[name] if name in configured else DEFAULTS[name]


def locked_bucket(key: str, period: str) -> RateBucket:
    """The row for ``key`` and ``period``, created if need be and locked for this transaction."""
    # An empty write first takes SQLite's write lock at once (select_for_update is a no-op there).
    if not RateBucket.objects.filter(key=key, period=period).update(count=F("count")):
        try:
            with transaction.atomic():
                RateBucket.objects.create(key=key, period=period)
        except IntegrityError:
            pass  # another request created it first
    return RateBucket.objects.select_for_update().get(key=key, period=period)


def take_app_token(application_id: int, now: datetime) -> None:
    """One request from the application's bucket, or 429 RATE_LIMIT:SMARTCAR_API with Retry-After."""
    config = setting("APP_RATE_LIMIT")
    if not config:
        return
    capacity = faults.positive_setting(config.get("capacity"), "APP_RATE_LIMIT capacity")
    per_second = (
        faults.positive_setting(config.get("refill_per_minute"), "APP_RATE_LIMIT refill_per_minute") / 60
    )
    with transaction.atomic():
        bucket = locked_bucket(f"app:{application_id}", "")
        if bucket.updated_at is None:
            tokens = capacity
        else:
            elapsed = max((now - bucket.updated_at).total_seconds(), 0.0)
            tokens = min(capacity, bucket.tokens + elapsed * per_second)
        if tokens < 1:
            bucket.tokens, bucket.updated_at = tokens, now
            bucket.save(update_fields=["tokens", "updated_at"])
            retry_after = max(math.ceil((1 - tokens) / per_second), 1)
            raise errors.rate_limit_error(retry_after, per_vehicle=False)
        bucket.tokens, bucket.updated_at = tokens - 1, now
        bucket.count += 1
        bucket.save(update_fields=["tokens", "updated_at", "count"])


def count_vehicle_request(vehicle_id: str, now: datetime) -> None:
    """One request in the vehicle's current window, or 429 RATE_LIMIT:VEHICLE with Retry-After."""
    config = setting("VEHICLE_RATE_LIMIT")
    if not config:
        return
    allowed = faults.positive_setting(config.get("requests"), "VEHICLE_RATE_LIMIT requests")
    window = faults.positive_setting(config.get("window_seconds"), "VEHICLE_RATE_LIMIT window_seconds")
    index = math.floor(now.timestamp() / window)
    with transaction.atomic():
        bucket = locked_bucket(f"vehicle:{vehicle_id}", f"window:{window:g}:{index}")
        if bucket.count >= allowed:
            retry_after = max(math.ceil((index + 1) * window - now.timestamp()), 1)
            raise errors.rate_limit_error(retry_after, per_vehicle=True)
        bucket.count += 1
        bucket.save(update_fields=["count"])


def bill_vehicle_requests(vehicle_id: str, billed: int, now: datetime) -> None:
    """Add ``billed`` requests to the vehicle's month; once the month's limit is used up, answer 430
    BILLING:VEHICLE_REQUEST_LIMIT (the request that would pass the limit is refused whole, not billed)."""
    limit = setting("VEHICLE_MONTHLY_REQUEST_LIMIT")
    if not limit or billed <= 0:
        return
    limit = faults.positive_setting(limit, "VEHICLE_MONTHLY_REQUEST_LIMIT")
    with transaction.atomic():
        bucket = locked_bucket(f"billing:{vehicle_id}", now.strftime("%Y-%m"))
        if bucket.count + billed > limit:
            raise billing_limit_error(int(limit))
        bucket.count += billed
        bucket.save(update_fields=["count"])


def billing_limit_error(limit: int) -> errors.ApiError:
    """430 BILLING/VEHICLE_REQUEST_LIMIT with the description of the reference's example answer (which names no
    number, nor a suggested user message) [err, billing-errors#vehicle-request-limit]; ``limit`` is not quoted."""
    return errors.ApiError(
        430,
        "BILLING",
        "VEHICLE_REQUEST_LIMIT",
        "You have exceeded the number of API requests that are allowed for this vehicle in the current billing "
        "period. Please log into the Smartcar dashboard and visit the Billing tab to learn more.",
    )


def admit(application_id: int, vehicle_id: str | None = None, *, billed: int = 0) -> None:
    """Apply every limit to one request, in Smartcar's order: application bucket, vehicle throttle, billing.

    Raises the ``ApiError`` of the first limit the request hits."""
    now = clock.now()
    take_app_token(application_id, now)
    if vehicle_id is not None:
        count_vehicle_request(vehicle_id, now)
        bill_vehicle_requests(vehicle_id, billed, now)
