"""The ready-made beat schedule: settings-driven, and loadable by django-celery-beat's database scheduler."""

from datetime import timedelta

import pytest
from celery import Celery

from django_smartcar.beat import beat_schedule


def test_schedule_follows_the_settings(settings):
    settings.SMARTCAR = {
        **settings.SMARTCAR,
        "ROTATION_CHECK_INTERVAL": timedelta(minutes=15),
        "VEHICLE_REFRESH_INTERVAL": timedelta(minutes=30),
    }
    schedule = beat_schedule()
    assert (
        schedule["django-smartcar-rotate-expiring-tokens"]["task"] == "django_smartcar.rotate_expiring_tokens"
    )
    assert schedule["django-smartcar-rotate-expiring-tokens"]["schedule"] == timedelta(minutes=15)
    assert schedule["django-smartcar-refresh-connected-vehicles"]["schedule"] == timedelta(minutes=30)


def test_vehicle_polling_can_be_switched_off(settings):
    """Adaptive polling by default (every minute, the due vehicles); the fixed interval only when asked for."""
    schedule = beat_schedule()
    assert "django-smartcar-refresh-connected-vehicles" not in schedule
    poll = schedule["django-smartcar-poll-due-vehicles"]
    assert poll["task"] == "django_smartcar.poll_due_vehicles" and poll["schedule"] == timedelta(minutes=1)

    settings.SMARTCAR = {
        **settings.SMARTCAR,
        "VEHICLE_REFRESH_INTERVAL": None,
        "POLL_DISPATCH_INTERVAL": None,
    }
    schedule = beat_schedule()
    assert "django-smartcar-rotate-expiring-tokens" in schedule
    assert "django-smartcar-refresh-connected-vehicles" not in schedule
    assert "django-smartcar-poll-due-vehicles" not in schedule


def test_connect_state_cleanup_follows_its_setting(settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "CONNECT_STATE_CLEANUP_INTERVAL": timedelta(minutes=20)}
    entry = beat_schedule()["django-smartcar-clear-connect-states"]
    assert entry["task"] == "django_smartcar.clear_connect_states"
    assert entry["schedule"] == timedelta(minutes=20) and entry["options"] == {"expires": 1200.0}

    settings.SMARTCAR = {**settings.SMARTCAR, "CONNECT_STATE_CLEANUP_INTERVAL": None}
    assert "django-smartcar-clear-connect-states" not in beat_schedule()


def test_the_webhook_sweep_follows_its_setting_and_can_be_switched_off(settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "WEBHOOK_SWEEP_INTERVAL": timedelta(minutes=2)}
    sweep = beat_schedule()["django-smartcar-requeue-pending-webhook-events"]
    assert sweep["task"] == "django_smartcar.requeue_pending_webhook_events"
    assert sweep["schedule"] == timedelta(minutes=2) and sweep["options"] == {"expires": 120.0}

    settings.SMARTCAR = {**settings.SMARTCAR, "WEBHOOK_SWEEP_INTERVAL": None}
    assert "django-smartcar-requeue-pending-webhook-events" not in beat_schedule()


def test_interrupted_token_exchanges_are_looked_for_every_fifteen_seconds():
    # Smartcar's shortest reuse window is one minute: the recovery beat must come well inside it.
    entry = beat_schedule()["django-smartcar-resume-interrupted-token-exchanges"]
    assert entry["task"] == "django_smartcar.resume_interrupted_token_exchanges"
    assert entry["schedule"] == timedelta(seconds=15)
    assert entry["options"]["expires"] == 15


@pytest.mark.django_db(transaction=True)  # the scheduler closes old connections itself
def test_django_celery_beat_database_scheduler_imports_the_schedule():
    from django_celery_beat.models import PeriodicTask
    from django_celery_beat.schedulers import DatabaseScheduler

    app = Celery("schedule-check", set_as_current=False)
    app.conf.beat_schedule = beat_schedule()
    app.conf.timezone = "UTC"
    DatabaseScheduler(app=app)

    rotation = PeriodicTask.objects.get(name="django-smartcar-rotate-expiring-tokens")
    assert rotation.task == "django_smartcar.rotate_expiring_tokens" and rotation.enabled
    assert (rotation.interval.every, rotation.interval.period) == (3600, "seconds")
    assert PeriodicTask.objects.filter(name="django-smartcar-poll-due-vehicles").exists()


def test_abandoned_commands_are_looked_for_unless_switched_off(settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "COMMAND_SWEEP_INTERVAL": timedelta(minutes=3)}
    entry = beat_schedule()["django-smartcar-fail-abandoned-commands"]
    assert entry["task"] == "django_smartcar.fail_abandoned_commands"
    assert entry["schedule"] == timedelta(minutes=3) and entry["options"] == {"expires": 180.0}

    settings.SMARTCAR = {**settings.SMARTCAR, "COMMAND_SWEEP_INTERVAL": None}
    assert "django-smartcar-fail-abandoned-commands" not in beat_schedule()
