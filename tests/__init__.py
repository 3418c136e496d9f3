# Importing the Celery app makes it the current app, so `.delay()` in the code under test uses its settings.
from .celery_app import app as celery_app

__all__ = ["celery_app"]
