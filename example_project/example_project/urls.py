from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("smartcar/", include("django_smartcar.urls")),
    # The bundled Smartcar stand-in; a production site leaves this out.
    path("simulator/", include("django_smartcar.simulator.urls")),
]
