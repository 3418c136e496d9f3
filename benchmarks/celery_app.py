"""The benchmark site's Celery app, configured from its settings as a project's would be."""

import os
from pathlib import Path

from celery import Celery

from .worker_stats import STATS_ENV, record_to

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

app = Celery("django_smartcar_benchmarks")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

if os.environ.get(STATS_ENV):
    record_to(Path(os.environ[STATS_ENV]))
