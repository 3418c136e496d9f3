"""The simulator's one source of time.

``now()`` is ``django.utils.timezone.now()`` (looked up at call time, so tests that patch it move the simulator)
plus an offset stored in the database, which the control API sets to move a standalone simulator's clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from .models import ClockOffset


def offset() -> timedelta:
    row = ClockOffset.objects.filter(pk=1).first()
    return timedelta(seconds=row.offset_seconds) if row else timedelta(0)


def now() -> datetime:
    return timezone.now() + offset()


def set_offset(seconds: float) -> None:
    ClockOffset.objects.update_or_create(pk=1, defaults={"offset_seconds": float(seconds)})


def advance(seconds: float) -> None:
    set_offset(offset().total_seconds() + float(seconds))
