"""The periodic tasks to merge into a project's Celery beat schedule.

    # celery.py (or settings: CELERY_BEAT_SCHEDULE = beat_schedule())
    from django_smartcar.beat import beat_schedule
    app.conf.beat_schedule = {**app.conf.beat_schedule, **beat_schedule()}

Plain ``{"task", "schedule"}`` entries, so django-celery-beat's DatabaseScheduler imports them too. Each
interval comes from its ``SMARTCAR`` setting (``PERIODIC_TASKS`` below), read when the schedule is built.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .conf import smartcar_settings

# (task name, the setting holding its interval; None there switches the entry off). The recovery of interrupted
# token exchanges runs every few seconds on purpose: an exchange killed mid-flight must be repeated within
# Smartcar's one-minute grace for the old refresh token.
PERIODIC_TASKS: tuple[tuple[str, str], ...] = (
    ("rotate_expiring_tokens", "ROTATION_CHECK_INTERVAL"),
    ("resume_interrupted_token_exchanges", "EXCHANGE_RECOVERY_INTERVAL"),
    ("refresh_connected_vehicles", "VEHICLE_REFRESH_INTERVAL"),
    ("poll_due_vehicles", "POLL_DISPATCH_INTERVAL"),
    ("requeue_pending_webhook_events", "WEBHOOK_SWEEP_INTERVAL"),
    ("clear_connect_states", "CONNECT_STATE_CLEANUP_INTERVAL"),
    ("fail_abandoned_commands", "COMMAND_SWEEP_INTERVAL"),
)


def beat_schedule() -> dict[str, dict[str, Any]]:
    schedule: dict[str, dict[str, Any]] = {}
    for task, setting in PERIODIC_TASKS:
        interval: timedelta | None = getattr(smartcar_settings, setting)
        if interval is None:
            continue
        schedule[f"django-smartcar-{task.replace('_', '-')}"] = {
            "task": f"django_smartcar.{task}",
            "schedule": interval,
            # A beat that ran late must not pile up: the next run finds the same work anyway.
            "options": {"expires": interval.total_seconds()},
        }
    return schedule
