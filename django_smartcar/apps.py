from django.apps import AppConfig


class DjangoSmartcarConfig(AppConfig):
    name = "django_smartcar"
    label = "django_smartcar"
    verbose_name = "Smartcar"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
