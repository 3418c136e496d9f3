"""URLs a project includes, e.g. ``path("smartcar/", include("django_smartcar.urls"))``."""

from django.urls import path  # noqa: F401

app_name = "django_smartcar"

urlpatterns: list = []
