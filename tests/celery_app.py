"""The test suite's Celery app, configured from tests.settings exactly as a project's would be."""

import os

from celery import Celery

from django_smartcar.beat import beat_schedule

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

app = Celery("django_smartcar_tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def add_smartcar_schedule(sender: Celery, **kwargs) -> None:
    sender.conf.beat_schedule = {**sender.conf.beat_schedule, **beat_schedule()}


def forget_broker_connections() -> None:
    """Make the next publish connect to the broker the app is configured with now (tests that switch brokers).

    The pools are dropped, never closed: kombu keeps them in a registry keyed by connection, and would hand a
    closed one out again to the next publish to the same broker ("Acquire on closed pool").
    """
    app._pool = None
    app.amqp._producer_pool = None
