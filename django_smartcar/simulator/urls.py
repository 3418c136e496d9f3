"""Mount with ``path("simulator/", include("django_smartcar.simulator.urls"))``; the mount point is then every
Smartcar origin at once: connect, api and management are ``<site>/simulator`` and the token URL is
``<site>/simulator/oauth/token``. Every URL under the mount point is the simulator's: the last routes answer
unknown ones with Smartcar's JSON 404, so mount it under a prefix of its own, never at the site's root."""

from django.urls import path, re_path

from . import jsonapi
from .views import api, connect, control, iam, management_v3, oauth, vehicle_v3

app_name = "smartcar_simulator"

# The official SDK asks for a vehicle's attributes and for management connections with a trailing slash;
# Smartcar answers every API path with or without one.
urlpatterns = [
    path("oauth/authorize", connect.authorize, name="authorize"),
    path("oauth/authorize/brand", connect.choose_brand, name="connect_brand"),
    path("oauth/authorize/sign-in", connect.sign_in, name="connect_sign_in"),
    path("oauth/authorize/decision", connect.decide, name="connect_decide"),
    path("oauth/reauthenticate", connect.reauthenticate, name="reauthenticate"),
    path("oauth/token", oauth.token, name="token"),
    # API V3's IAM origin: application tokens (client-credentials grant).
    path("oauth2/token", iam.token, name="iam_token"),
    re_path(r"^v2\.0/user/?$", api.user, name="user"),
    re_path(r"^v2\.0/vehicles/?$", api.vehicles, name="vehicles"),
    re_path(r"^v2\.0/vehicles/(?P<vehicle_id>[^/]+)/?$", api.vehicle, name="vehicle"),
    re_path(r"^v2\.0/vehicles/(?P<vehicle_id>[^/]+)/(?P<path>.+)$", api.vehicle, name="vehicle_endpoint"),
    re_path(r"^v2\.0/compatibility/?$", api.compatibility, name="compatibility"),
    re_path(r"^v2\.0/management/connections/?$", api.connections, name="connections"),
    # Anything else under the API answers Smartcar's JSON 404 (PATH), not an HTML page.
    re_path(r"^v2\.0/(?P<path>.*)$", api.unknown_path, name="unknown_path"),
    # The Management API V3, with an application token.
    re_path(r"^v3/webhooks/?$", management_v3.webhook_list, name="v3_webhooks"),
    re_path(r"^v3/webhooks/(?P<webhook_id>[^/]+)/?$", management_v3.webhook_detail, name="v3_webhook"),
    re_path(r"^v3/subscriptions/?$", management_v3.subscription_list, name="v3_subscriptions"),
    re_path(
        r"^v3/subscriptions/(?P<subscription_id>[^/]+)/?$",
        management_v3.subscription_detail,
        name="v3_subscription",
    ),
    # API V3's Vehicle API.
    re_path(r"^v3/connections/?$", vehicle_v3.connections, name="v3_connections"),
    re_path(r"^v3/connections/(?P<connection_id>[^/]+)/?$", vehicle_v3.connection, name="v3_connection"),
    re_path(r"^v3/users/(?P<user_id>[^/]+)/?$", vehicle_v3.user, name="v3_user"),
    re_path(r"^v3/vehicles/(?P<vehicle_id>[^/]+)/?$", vehicle_v3.vehicle, name="v3_vehicle"),
    re_path(r"^v3/vehicles/(?P<vehicle_id>[^/]+)/signals/?$", vehicle_v3.signals, name="v3_signals"),
    re_path(
        r"^v3/vehicles/(?P<vehicle_id>[^/]+)/signals/(?P<code>[^/]+)/?$", vehicle_v3.signal, name="v3_signal"
    ),
    re_path(
        r"^v3/vehicles/(?P<vehicle_id>[^/]+)/commands/(?P<name>.+)$", vehicle_v3.command, name="v3_command"
    ),
    # API V3 (Vehicle API and Management API on one host): any other /v3 path answers a JSON:API 404.
    re_path(r"^v3/(?P<path>.*)$", jsonapi.unknown_path, name="v3_unknown_path"),
    path("_simulator/health", control.health, name="health"),
    path("_simulator/faults", control.fault_list, name="faults"),
    path("_simulator/clock", control.clock_control, name="clock"),
    path("_simulator/requests", control.request_counts, name="requests"),
    path("_simulator/seed", control.seed, name="seed"),
    path("_simulator/webhooks", control.webhook_list, name="webhooks"),
    path("_simulator/webhooks/deliver-due", control.webhook_deliver_due, name="webhook_deliver_due"),
    path("_simulator/webhooks/<str:webhook_id>/deliver", control.webhook_deliver, name="webhook_deliver"),
    path("_simulator/webhooks/<str:webhook_id>", control.webhook_detail, name="webhook_detail"),
    # Last: any other version (v1.0, v2, v9.9) answers RESOURCE_NOT_FOUND/VERSION, and any other path
    # RESOURCE_NOT_FOUND/PATH, as Smartcar's JSON and never a framework's HTML 404 page.
    re_path(r"^(?P<version>v[0-9][^/]*)/(?P<path>.*)$", api.unknown_version, name="unknown_version"),
    re_path(r"^(?P<path>.*)$", api.unknown_path, name="catch_all"),
]
