"""The periodic tasks to merge into a project's Celery beat schedule.

    # celery.py (or settings: CELERY_BEAT_SCHEDULE = beat_schedule())
    from django_smartcar.beat import beat_schedule
    app.conf.beat_schedule = {**app.conf.beat_schedule, **beat_schedule()}

Plain ``{"task", "schedule"}`` entries, so django-celery-beat's DatabaseScheduler imports them too. The
intervals come from ``SMARTCAR["ROTATION_CHECK_INTERVAL"]``, ``SMARTCAR["VEHICLE_REFRESH_INTERVAL"]`` and
``SMARTCAR["WEBHOOK_SWEEP_INTERVAL"]``.
"""

from __future__ import annotations

from typing import Any

from .conf import smartcar_settings


def beat_schedule() -> dict[str, dict[str, Any]]:
    schedule: dict[str, dict[str, Any]] = {
        "django-smartcar-rotate-expiring-tokens": {
            "task": "django_smartcar.rotate_expiring_tokens",
            "schedule": smartcar_settings.ROTATION_CHECK_INTERVAL,
            # A beat that ran late must not pile up: the next one finds the same accounts anyway.
            "options": {"expires": smartcar_settings.ROTATION_CHECK_INTERVAL.total_seconds()},
        },
    }
    refresh_interval = smartcar_settings.VEHICLE_REFRESH_INTERVAL
    if refresh_interval is not None:
        schedule["django-smartcar-refresh-connected-vehicles"] = {
            "task": "django_smartcar.refresh_connected_vehicles",
            "schedule": refresh_interval,
            "options": {"expires": refresh_interval.total_seconds()},
        }
    cleanup_interval = smartcar_settings.CONNECT_STATE_CLEANUP_INTERVAL
    if cleanup_interval is not None:
        schedule["django-smartcar-clear-connect-states"] = {
            "task": "django_smartcar.clear_connect_states",
            "schedule": cleanup_interval,
            "options": {"expires": cleanup_interval.total_seconds()},
        }
    sweep_interval = smartcar_settings.WEBHOOK_SWEEP_INTERVAL
    if sweep_interval is not None:
        # Webhook events answered 2xx whose processing task was lost (broker down or restarted) get queued again.
        schedule["django-smartcar-requeue-pending-webhook-events"] = {
            "task": "django_smartcar.requeue_pending_webhook_events",
            "schedule": sweep_interval,
            "options": {"expires": sweep_interval.total_seconds()},
        }
    return schedule
