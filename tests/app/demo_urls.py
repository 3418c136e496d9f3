"""The test project's URLs with the example project's garage and the names its layout links to, to render the
demo's pages in process (test_signals' ``demo_pages`` fixture puts ``example_project`` on the path first)."""

from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerView

from tests.urls import urlpatterns as test_urlpatterns

urlpatterns = [
    path("garage/", include("garage.urls")),
    path("accounts/sign-out/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    *test_urlpatterns,
]
