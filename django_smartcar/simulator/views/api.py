"""Smartcar's Vehicle API (``/v2.0/...``): user, vehicles, every vehicle endpoint, batch, compatibility.

These are API endpoints called with tokens, never from a browser form, hence csrf_exempt.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable
from typing import Any

from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from .. import clock, errors, faults, grants, latency, limits, traffic, webhooks
from ..compatibility import check as compatibility_check
from ..errors import ApiError, api_json
from ..models import Grant, SimulatedVehicle, Webhook, WebhookSubscription
from ..permissions import PERMISSIONS
from ..tokens import grant_for_access_token
from ..vehicle_api import (
    ENDPOINTS,
    UNIT_SYSTEMS,
    VehicleCall,
    batch,
    data_headers,
    run,
)
from .credentials import bearer_token, client_application, management_application

VEHICLES_PAGE = (10, 50)  # default and largest page of GET /vehicles
PERMISSIONS_PAGE = (25, 50)

View = Callable[..., HttpResponse]


def smartcar_api(view: View) -> View:
    """Give the view a request id, answer raised ``ApiError``s with Smartcar's v2 error body."""

    @csrf_exempt
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        request_id = str(uuid.uuid4())
        try:
            response = view(request, request_id, *args, **kwargs)
        except ApiError as error:
            return error.response(request_id)
        response.setdefault("SC-Request-Id", request_id)
        return response

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def raise_injected_failure(vehicle_id: str | None, endpoint: str | None = None) -> HttpResponse | None:
    """Apply latency (``endpoint``: the request's class in the latency model) and return a gateway page, or
    raise an error, when a fault says this request fails."""
    failure = faults.failure_for(target="api", vehicle_id=vehicle_id, endpoint=endpoint)
    if isinstance(failure, ApiError):
        raise failure
    return failure


def with_reauthentication_url(error: ApiError, request: HttpRequest, vehicle_id: str) -> ApiError:
    """A REAUTHENTICATE connected-services-account error with the car's partial re-authentication URL in its
    resolution, as Smartcar sends for AUTHENTICATION_FAILED [err], when the token says which application asks."""
    if (
        error.type != "CONNECTED_SERVICES_ACCOUNT"
        or error.code != "AUTHENTICATION_FAILED"
        or error.resolution_url
    ):
        return error
    token = bearer_token(request)
    grant = grant_for_access_token(token) if token else None
    if grant is None:
        return error
    authorize = request.build_absolute_uri(reverse("smartcar_simulator:authorize"))
    origin = authorize.removesuffix("/oauth/authorize")
    url = errors.reauthentication_url(origin, grant.application.client_id, vehicle_id)
    return dataclasses.replace(error, resolution_url=url)


def require_grant(request: HttpRequest) -> Grant:
    token = bearer_token(request)
    grant = grant_for_access_token(token) if token else None
    if grant is None:
        raise errors.authentication_error()
    return grant


def unit_system_of(request: HttpRequest) -> str:
    unit_system = request.headers.get("sc-unit-system", "metric").lower()
    if unit_system not in UNIT_SYSTEMS:
        raise errors.validation_error(
            "The sc-unit-system header must be metric or imperial.", "sc-unit-system"
        )
    return unit_system


def json_body(request: HttpRequest) -> Any:
    if not request.body:
        return None
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as error:
        raise errors.validation_error("The request body is not valid JSON.", "body") from error


def paging(request: HttpRequest, default_limit: int, max_limit: int) -> tuple[int, int]:
    values = {}
    for name, default, highest in (("limit", default_limit, max_limit), ("offset", 0, None)):
        raw = request.GET.get(name)
        try:
            value = default if raw in (None, "") else int(raw)
        except ValueError:
            value = -1
        if value < 0 or (highest is not None and not 1 <= value <= highest):
            bounds = f"between 1 and {highest}" if highest else "0 or more"
            raise errors.validation_error(f"{name} must be an integer {bounds}.", name)
        values[name] = value
    return values["limit"], values["offset"]


@smartcar_api
def user(request: HttpRequest, request_id: str) -> HttpResponse:
    if request.method != "GET":
        raise errors.path_not_found(request.method, "/user")
    if failure := raise_injected_failure(None):
        return failure
    grant = require_grant(request)
    limits.admit(grant.application_id)
    return api_json({"id": grant.user_id}, request_id)


@smartcar_api
def vehicles(request: HttpRequest, request_id: str) -> HttpResponse:
    if request.method != "GET":
        raise errors.path_not_found(request.method, "/vehicles")
    if failure := raise_injected_failure(None):
        return failure
    grant = require_grant(request)
    limits.admit(grant.application_id)
    limit, offset = paging(request, *VEHICLES_PAGE)
    ids = list(grant.vehicles.order_by("id").values_list("id", flat=True))
    return api_json(
        {"vehicles": ids[offset : offset + limit], "paging": {"count": len(ids), "offset": offset}},
        request_id,
    )


@smartcar_api
def vehicle(request: HttpRequest, request_id: str, vehicle_id: str, path: str = "") -> HttpResponse:
    # Django leaves method None only on an HttpRequest built by hand, never on one it received.
    method, path = request.method or "", path.strip("/")
    traffic.record(vehicle_id, method, path)
    endpoint_class = latency.classify(method, path, batch_paths(request) if path == "batch" else None)
    try:
        if failure := raise_injected_failure(vehicle_id, endpoint_class):
            return failure
    except ApiError as error:
        raise with_reauthentication_url(error, request, vehicle_id) from None
    if method == "DELETE" and path.startswith("webhooks/"):
        # Unsubscribing authenticates with the management token, not the owner's access token.
        return unsubscribe(request, request_id, vehicle_id, path.removeprefix("webhooks/"))
    grant = require_grant(request)
    found = grant.vehicles.filter(pk=vehicle_id).first()
    if found is None:
        raise errors.vehicle_not_found()
    limits.admit(grant.application_id, found.pk, billed=billed_requests(request, method, path))
    unit_system = unit_system_of(request)

    if method == "POST" and path == "batch":
        body = json_body(request)
        answer = batch(
            found,
            body.get("requests") if isinstance(body, dict) else None,
            unit_system=unit_system,
            now=clock.now(),
            scope=grant.scope,
            asleep=faults.is_asleep(found.pk),
            request_id=request_id,
        )
        response = api_json(answer, request_id)
        response["sc-unit-system"] = unit_system
        return response
    if method == "GET" and path == "permissions":
        limit, offset = paging(request, *PERMISSIONS_PAGE)
        page = {"count": len(grant.scope), "offset": offset}
        return api_json({"permissions": grant.scope[offset : offset + limit], "paging": page}, request_id)
    if method == "DELETE" and path == "application":
        grants.disconnect(grant.application, [found])
        return api_json({"status": "success"}, request_id)
    if method == "POST" and path.startswith("webhooks/"):
        return subscribe(request_id, grant, found, path.removeprefix("webhooks/"))

    endpoint = ENDPOINTS.get((method, path))
    if endpoint is None:
        raise errors.path_not_found(method, f"/vehicles/{vehicle_id}/{path}")
    call = VehicleCall(
        vehicle=found,
        unit_system=unit_system,
        now=clock.now(),
        body=json_body(request) if method == "POST" else None,
        query=request.GET.dict(),
    )
    asleep = endpoint.reaches_car and faults.is_asleep(found.pk)
    response = api_json(run(endpoint, call, grant.scope, asleep=asleep), request_id)
    if method == "GET":
        headers = data_headers(call) if endpoint.reaches_car else {"sc-unit-system": unit_system}
        for name, value in headers.items():
            response[name] = value
    return response


def batch_paths(request: HttpRequest) -> list[str] | None:
    """The paths a batch body asks for (None when the body is not a batch's), for its latency class."""
    try:
        items = json.loads(request.body).get("requests")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        return None
    paths = [item.get("path") for item in items]
    return paths if all(isinstance(path, str) for path in paths) else None


def billed_requests(request: HttpRequest, method: str, path: str) -> int:
    """How many billed requests this is: one per data or command endpoint, one per batch item, else none."""
    if method == "POST" and path == "batch":
        try:
            items = json.loads(request.body).get("requests")
        except (ValueError, UnicodeDecodeError, AttributeError):
            return 0  # the batch is refused as invalid, unbilled
        return len(items) if isinstance(items, list) else 0
    return 1 if (method, path) in ENDPOINTS else 0


@smartcar_api
def unknown_path(request: HttpRequest, request_id: str, path: str) -> HttpResponse:
    raise errors.path_not_found(request.method, request.path)


@smartcar_api
def unknown_version(request: HttpRequest, request_id: str, version: str, path: str) -> HttpResponse:
    raise errors.version_not_found(version)


def webhook_not_found(webhook_id: str) -> ApiError:
    return ApiError(
        404, "RESOURCE_NOT_FOUND", "WEBHOOK", f"No webhook {webhook_id!r} exists for this application."
    )


def subscribe(request_id: str, grant: Grant, found: SimulatedVehicle, webhook_id: str) -> HttpResponse:
    webhook = Webhook.objects.filter(application=grant.application, webhook_id=webhook_id).first()
    if webhook is None:
        raise webhook_not_found(webhook_id)
    # A new subscription gets the vehicle's state with the trigger FIRST_DELIVERY.
    webhooks.subscribe(webhook, found, grant.user_id)
    return api_json({"webhookId": webhook.webhook_id, "vehicleId": found.pk}, request_id)


def unsubscribe(request: HttpRequest, request_id: str, vehicle_id: str, webhook_id: str) -> HttpResponse:
    application = management_application(request)
    if application is None:
        raise errors.authentication_error()
    webhook = Webhook.objects.filter(application=application, webhook_id=webhook_id).first()
    if webhook is None:
        raise webhook_not_found(webhook_id)
    if not SimulatedVehicle.objects.filter(pk=vehicle_id).exists():
        raise errors.vehicle_not_found()
    WebhookSubscription.objects.filter(webhook=webhook, vehicle_id=vehicle_id).delete()
    return api_json({"status": "success"}, request_id)


@smartcar_api
def compatibility(request: HttpRequest, request_id: str) -> HttpResponse:
    """Whether a VIN can grant a scope (see ``simulator.compatibility``)."""
    if request.method != "GET":
        raise errors.path_not_found(request.method, "/compatibility")
    if failure := raise_injected_failure(None):
        return failure
    application = client_application(request)
    if application is None:
        raise errors.authentication_error()
    limits.admit(application.pk)
    vin = request.GET.get("vin", "").strip().upper()
    if len(vin) != 17:
        raise errors.validation_error("vin must be a 17-character VIN.", "vin")
    scope = request.GET.get("scope", "").split()
    unknown = [name for name in scope if name not in PERMISSIONS]
    if not scope or unknown:
        raise errors.validation_error(
            f"scope must list known permissions; unknown: {unknown or 'none given'}", "scope"
        )

    return api_json(compatibility_check(vin, scope), request_id)


# GET limit: default 10, at most 100 [A/management/get-vehicle-connections].
CONNECTIONS_PAGE = (10, 100)
# The mode filter takes live or simulated; test is the deprecated name of simulated.
CONNECTION_MODES = {"live": "live", "simulated": "simulated", "test": "simulated"}


@smartcar_api
def connections(request: HttpRequest, request_id: str) -> HttpResponse:
    """The management API: list (GET) or delete (DELETE) the vehicles connected to the application."""
    if request.method not in ("GET", "DELETE"):
        raise errors.path_not_found(request.method, "/management/connections")
    application = management_application(request)
    if application is None:
        raise errors.authentication_error()
    user_id, vehicle_id = request.GET.get("user_id"), request.GET.get("vehicle_id")
    # A connection's mode is the one its vehicle was connected in (its newest grant's Connect mode).
    newest_grant = Grant.objects.filter(
        application=OuterRef("application"), vehicles=OuterRef("vehicle")
    ).order_by("-created_at", "-id")
    rows = application.connections.annotate(
        grant_mode=Coalesce(Subquery(newest_grant.values("mode")[:1]), Value("live"))
    )
    if user_id:
        rows = rows.filter(user_id=user_id)
    if vehicle_id:
        rows = rows.filter(vehicle_id=vehicle_id)

    if request.method == "DELETE":
        # By user, by vehicle, or by both together (that user's connection of that vehicle).
        if not user_id and not vehicle_id:
            raise errors.validation_error("Give user_id, vehicle_id or both.", "user_id")
        removed = grants.disconnect(application, [row.vehicle for row in rows.select_related("vehicle")])
        # The delete answer names the connections only: no connectedAt, no mode.
        deleted = [{"userId": row.user_id, "vehicleId": row.vehicle_id} for row in removed]
        return api_json({"connections": deleted}, request_id)

    mode = request.GET.get("mode")
    if mode:
        if mode not in CONNECTION_MODES:
            raise errors.validation_error("mode must be live or simulated.", "mode")
        if CONNECTION_MODES[mode] == "live":
            rows = rows.filter(grant_mode="live")
        else:
            rows = rows.exclude(grant_mode="live")
    limit, offset = paging(request, *CONNECTIONS_PAGE)
    cursor = request.GET.get("cursor")
    if cursor:
        try:
            offset = int(cursor)
        except ValueError as error:
            raise errors.validation_error("cursor is not one this API returned.", "cursor") from error
    page = list(rows[offset : offset + limit + 1])
    next_cursor = str(offset + limit) if len(page) > limit else None
    body = {"connections": [connection_json(row) for row in page[:limit]], "paging": {"cursor": next_cursor}}
    return api_json(body, request_id)


def connection_json(row: Any) -> dict[str, Any]:
    return {
        "userId": row.user_id,
        "vehicleId": row.vehicle_id,
        "connectedAt": row.connected_at.isoformat(),
        "mode": "live" if row.grant_mode == "live" else "simulated",
    }
