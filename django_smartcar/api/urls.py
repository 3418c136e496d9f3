"""URLs a project includes, e.g. ``path("api/smartcar/", include("django_smartcar.api.urls"))``."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

app_name = "django_smartcar_api"

router = SimpleRouter()
router.register("vehicles", views.VehicleViewSet, basename="vehicle")
router.register("commands", views.CommandViewSet, basename="command")
router.register("refreshes", views.RefreshViewSet, basename="refresh")
router.register("accounts", views.AccountViewSet, basename="account")

urlpatterns = [
    *router.urls,
    path("connect-url/", views.ConnectUrlView.as_view(), name="connect-url"),
]
