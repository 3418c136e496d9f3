from django.urls import path

from . import views

app_name = "garage"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("vehicles/<int:pk>/lock/", views.send_vehicle_command, {"action": "lock"}, name="vehicle-lock"),
    path(
        "vehicles/<int:pk>/unlock/", views.send_vehicle_command, {"action": "unlock"}, name="vehicle-unlock"
    ),
    path("vehicles/<int:pk>/refresh/", views.refresh_vehicle, name="vehicle-refresh"),
]
