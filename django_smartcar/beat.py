"""The periodic tasks to merge into a project's Celery beat schedule.

    # celery.py (or settings: CELERY_BEAT_SCHEDULE = beat_schedule())
    from django_smartcar.beat import beat_schedule
    app.conf.beat_schedule = {**app.conf.beat_schedule, **beat_schedule()}

Plain ``{"task", "schedule"}`` entries, so django-celery-beat's DatabaseScheduler imports them too. The
intervals come from ``SMARTCAR["ROTATION_CHECK_INTERVAL"]`` and ``SMARTCAR["VEHICLE_REFRESH_INTERVAL"]``.
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
        # Short on purpose: an exchange killed mid-flight must be repeated within Smartcar's one-minute grace.
        "django-smartcar-resume-interrupted-token-exchanges": {
            "task": "django_smartcar.resume_interrupted_token_exchanges",
            "schedule": smartcar_settings.EXCHANGE_RECOVERY_INTERVAL,
            "options": {"expires": smartcar_settings.EXCHANGE_RECOVERY_INTERVAL.total_seconds()},
        },
    }
    refresh_interval = smartcar_settings.VEHICLE_REFRESH_INTERVAL
    if refresh_interval is not None:
        schedule["django-smartcar-refresh-connected-vehicles"] = {
            "task": "django_smartcar.refresh_connected_vehicles",
            "schedule": refresh_interval,
            "options": {"expires": refresh_interval.total_seconds()},
        }
    return schedule
