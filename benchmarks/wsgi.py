"""WSGI entry point for gunicorn: ``gunicorn benchmarks.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

application = get_wsgi_application()

# As a project's package __init__ does: the app's shared tasks then publish through this configured Celery app.
from .celery_app import app as celery_app  # noqa: E402, F401
