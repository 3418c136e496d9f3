"""URLconf of the standalone simulator: every Smartcar origin at the root of one host."""

from django.urls import include, path

urlpatterns = [path("", include("django_smartcar.simulator.urls"))]
