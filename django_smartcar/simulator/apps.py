from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    name = "django_smartcar.simulator"
    label = "smartcar_simulator"
    verbose_name = "Smartcar simulator"
    default_auto_field = "django.db.models.BigAutoField"
