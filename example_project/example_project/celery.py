"""The example project's Celery app: django-smartcar's beat schedule merged into the project's config."""

import os

from celery import Celery

from django_smartcar.beat import beat_schedule

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")

app = Celery("example_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def add_smartcar_schedule(sender: Celery, **kwargs) -> None:
    sender.conf.beat_schedule = {**sender.conf.beat_schedule, **beat_schedule()}
