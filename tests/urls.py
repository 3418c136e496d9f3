from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("smartcar/", include("django_smartcar.urls")),
    path("api/smartcar/", include("django_smartcar.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("simulator/", include("django_smartcar.simulator.urls")),
]
