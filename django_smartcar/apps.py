from django.apps import AppConfig


class DjangoSmartcarConfig(AppConfig):
    name = "django_smartcar"
    label = "django_smartcar"
    verbose_name = "Smartcar"
    default_auto_field = "django.db.models.BigAutoField"
