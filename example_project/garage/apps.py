from django.apps import AppConfig


class GarageConfig(AppConfig):
    """The example site's own pages (the user's garage) and its demo runner."""

    name = "garage"
    default_auto_field = "django.db.models.BigAutoField"
