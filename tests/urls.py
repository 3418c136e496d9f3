from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("smartcar/", include("django_smartcar.urls")),
    path("simulator/", include("django_smartcar.simulator.urls")),
]
