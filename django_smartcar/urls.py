"""URLs a project includes, e.g. ``path("smartcar/", include("django_smartcar.urls"))``."""

from django.urls import path

from . import views

app_name = "django_smartcar"

urlpatterns = [
    path("", views.connections, name="connections"),
    path("connect/", views.connect, name="connect"),
    path("callback/", views.callback, name="callback"),
    path("accounts/<int:pk>/disconnect/", views.disconnect_account, name="disconnect-account"),
    path("vehicles/<int:pk>/disconnect/", views.disconnect_vehicle, name="disconnect-vehicle"),
    path("vehicles/<int:pk>/reauthenticate/", views.reauthenticate, name="reauthenticate"),
    path("webhooks/<str:url_id>/", views.webhook, name="webhook"),
]
