"""Smartcar's application rate limit, kept by the app: bulk work asks here before sending, so Smartcar never has to
answer ``429 RATE_LIMIT:SMARTCAR_API``.

Smartcar gives each application a bucket of requests (by default 120, refilling 2 a minute; raised on request for
large fleets) shared by every Vehicle API call. The app keeps its own copy in the database (``AppRequestBucket``,
one row, locked while it is read and written), so every web and worker process draws from the same bucket:

* ``take(n)`` grants bulk work up to ``n`` requests now; what is not granted waits for ``seconds_until(n)``,
  which the caller turns into a Celery countdown (no worker sleeps on the bucket);
* ``spend(n)`` records the requests sent one at a time (a person's refresh, a command) without waiting: the
  bucket may go below zero, and bulk work then waits until it has refilled;
* ``drain(seconds)`` empties it when Smartcar said ``RATE_LIMIT`` anyway (another app on the same credentials, a
  restart that forgot recent requests): nothing more until Smartcar's Retry-After has passed.

The refill is counted slightly slower than Smartcar's (``SAFETY``) so that clock drift and rounding never
overdraw the real bucket. ``APP_RATE_LIMIT = None`` turns pacing off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..conf import smartcar_settings
from ..db import select_for_update
from ..models import AppRequestBucket

BUCKET_KEY = "smartcar-application"
SAFETY = 0.95


@dataclass(frozen=True)
class RateLimit:
    capacity: float
    per_second: float


def rate_limit() -> RateLimit | None:
    """``APP_RATE_LIMIT`` as the bucket's size and its refill per second (with ``SAFETY``), or None."""
    config = smartcar_settings.APP_RATE_LIMIT
    if config is None:
        return None
    return RateLimit(float(config["capacity"]), float(config["refill_per_minute"]) * SAFETY / 60)


def _locked_bucket(limit: RateLimit, now: datetime) -> AppRequestBucket:
    """The bucket row, locked until the transaction ends, refilled up to ``now``; created full the first time."""
    bucket = select_for_update(AppRequestBucket.objects.filter(key=BUCKET_KEY)).first()
    if bucket is None:
        try:
            with transaction.atomic():
                AppRequestBucket.objects.create(key=BUCKET_KEY, tokens=limit.capacity, updated_at=now)
        except IntegrityError:
            pass  # another process created it first
        bucket = select_for_update(AppRequestBucket.objects.filter(key=BUCKET_KEY)).get()
    elapsed = max((now - bucket.updated_at).total_seconds(), 0.0)
    bucket.tokens = min(limit.capacity, bucket.tokens + elapsed * limit.per_second)
    bucket.updated_at = max(now, bucket.updated_at)
    return bucket


def take(wanted: int, *, now: datetime | None = None) -> int:
    """Take up to ``wanted`` requests from the bucket; how many were granted (all of them without a limit)."""
    limit = rate_limit()
    if limit is None or wanted <= 0:
        return max(wanted, 0)
    with transaction.atomic():
        bucket = _locked_bucket(limit, now or timezone.now())
        granted = max(0, min(wanted, math.floor(bucket.tokens)))
        bucket.tokens -= granted
        bucket.save(update_fields=["tokens", "updated_at"])
    return granted


def spend(count: int = 1, *, now: datetime | None = None) -> None:
    """Record ``count`` requests sent without asking (the bucket may go below zero)."""
    limit = rate_limit()
    if limit is None or count <= 0:
        return
    with transaction.atomic():
        bucket = _locked_bucket(limit, now or timezone.now())
        bucket.tokens -= count
        bucket.save(update_fields=["tokens", "updated_at"])


def give_back(count: int, *, now: datetime | None = None) -> None:
    """Return requests taken but never sent (the bucket never grows past its capacity)."""
    limit = rate_limit()
    if limit is None or count <= 0:
        return
    with transaction.atomic():
        bucket = _locked_bucket(limit, now or timezone.now())
        bucket.tokens = min(limit.capacity, bucket.tokens + count)
        bucket.save(update_fields=["tokens", "updated_at"])


def drain(seconds: float, *, now: datetime | None = None) -> None:
    """Smartcar answered RATE_LIMIT: nothing is granted for ``seconds`` (its Retry-After)."""
    limit = rate_limit()
    if limit is None:
        return
    with transaction.atomic():
        bucket = _locked_bucket(limit, now or timezone.now())
        bucket.tokens = min(bucket.tokens, -max(seconds, 0.0) * limit.per_second)
        bucket.save(update_fields=["tokens", "updated_at"])


def seconds_until(wanted: int, *, now: datetime | None = None) -> float:
    """How long until ``wanted`` requests (at most the bucket's size) can be granted; 0 without a limit."""
    limit = rate_limit()
    if limit is None or wanted <= 0:
        return 0.0
    with transaction.atomic():
        bucket = _locked_bucket(limit, now or timezone.now())
    missing = min(float(wanted), limit.capacity) - bucket.tokens
    return max(missing, 0.0) / limit.per_second


def available(*, now: datetime | None = None) -> int | None:
    """Requests the bucket would grant now (None without a limit): how much work a dispatch round queues."""
    limit = rate_limit()
    if limit is None:
        return None
    with transaction.atomic():
        bucket = _locked_bucket(limit, now or timezone.now())
    return max(0, math.floor(bucket.tokens))
