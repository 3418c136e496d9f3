"""The example site: its own pages (garage), sign-in, the admin, django-smartcar's views and API, and the
bundled simulator while it stands in for Smartcar."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from garage.views import SignInView, favicon

urlpatterns = [
    path("", include("garage.urls")),
    path("accounts/sign-in/", SignInView.as_view(), name="login"),
    path("accounts/sign-out/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("smartcar/", include("django_smartcar.urls")),
    path("api/smartcar/", include("django_smartcar.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("favicon.ico", favicon),
]

if settings.USE_SIMULATOR:
    # The bundled Smartcar stand-in; with real Smartcar credentials it is not served.
    urlpatterns.append(path("simulator/", include("django_smartcar.simulator.urls")))
