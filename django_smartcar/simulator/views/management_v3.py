"""Smartcar's Management API V3 (``/v3/webhooks``, ``/v3/subscriptions``) with an application token.

Webhooks are read-only here as on Smartcar (created on the dashboard; in the simulator by ``register_webhook``
or the control API). Subscribing answers 202 "subscription creation in progress" [mgmt]; the simulator creates
the subscription at once (a following GET finds it) and queues its FIRST_DELIVERY, so it gets v4 events like
one made through v2, naming the subscription's user as ``data.user.id``. Paging by ``page[number]`` and
``page[size]`` (webhooks: default 50, subscriptions: default 25, both at most 100) [mgmt]; errors are JSON:API
documents (``jsonapi``). Requests are counted, delayed, failed by faults and admitted by the application's rate
limit as the Vehicle API V3's platform requests (``/v3/connections``) are.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse

from .. import latency, limits, webhooks
from ..app_tokens import require_application
from ..errors import ApiError, api_json
from ..jsonapi import (
    MISSING_PARAMETER,
    jsonapi_view,
    page_document,
    paging,
    resource_not_found,
    validation_error,
)
from ..models import (
    Application,
    Connection,
    Grant,
    Powertrain,
    SimulatedUser,
    SimulatedVehicle,
    Webhook,
    WebhookSubscription,
)
from ..signals import SIGNALS_BY_CODE
from .vehicle_v3 import arrive

WEBHOOK_FILTERS = ("filter[name]", "filter[callbackUri]", "filter[isEnabled]", "filter[autoSubscribe]")
SUBSCRIPTION_FILTERS = ("filter[userId]", "filter[webhookId]", "filter[vehicleId]", "filter[vehicle.mode]")
WEBHOOKS_PAGE = (50, 100)  # default and largest page[size] [mgmt]
SUBSCRIPTIONS_PAGE = (25, 100)
# filter[vehicle.mode]: live or simulated (test: the deprecated name of simulated, as in v2 management).
MODES = {"live": "live", "simulated": "simulated", "test": "simulated"}
# V3's powertrainType for the simulator's powertrains (BEV and ICE as documented [veh, conn]).
POWERTRAIN_TYPES: dict[str, str] = {
    Powertrain.ELECTRIC.value: "BEV",
    Powertrain.FUEL.value: "ICE",
    Powertrain.PLUG_IN_HYBRID.value: "PHEV",
}


def authenticated(request: HttpRequest) -> Application:
    """The application whose token came (401 otherwise), its request counted in its rate-limit bucket (a
    platform request, like ``/v3/connections``: counted, never billed)."""
    application = require_application(request)
    limits.admit(application.pk)
    return application


def reject_unknown_filters(request: HttpRequest, known: tuple[str, ...]) -> None:
    unknown = sorted(key for key in request.GET if key.startswith("filter[") and key not in known)
    if unknown:
        raise validation_error(f"Unknown filter {unknown[0]}.", unknown[0])


def not_found(what: str, identifier: str) -> ApiError:
    return ApiError(
        404, "RESOURCE_NOT_FOUND", what.upper(), f"No {what} {identifier!r} for this application."
    )


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def boolean_filter(request: HttpRequest, name: str) -> bool | None:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return None
    if raw.lower() not in ("true", "false"):
        raise validation_error(f"{name} must be true or false.", name)
    return raw.lower() == "true"


# --- Webhooks ----------------------------------------------------------------------------------------------


def signal_refs(codes: list[str]) -> list[dict[str, str]]:
    """``[{group, name, code}]`` as the webhook resource lists its triggers and data [mgmt]."""
    refs = []
    for code in codes:
        signal = SIGNALS_BY_CODE.get(code)
        if signal is not None:
            refs.append({"group": signal.group, "name": signal.name, "code": signal.code})
    return refs


def webhook_json(webhook: Webhook) -> dict[str, Any]:
    data = [signal.code for signal in webhooks.configured_signals(webhook)]
    return {
        "id": webhook.webhook_id,
        "type": "webhook",
        "attributes": {
            "name": webhook.name,
            "callbackUri": webhook.url,
            "isEnabled": webhook.is_enabled,
            "triggers": signal_refs(list(webhook.triggers)),
            "data": signal_refs(data),
            "errorCallbackUri": webhook.error_url or None,
            "autoSubscribe": webhook.auto_subscribe,
        },
        "links": {"self": f"/webhooks/{webhook.webhook_id}"},
        "meta": {"createdAt": iso(webhook.created_at)},
    }


@jsonapi_view
def webhook_list(request: HttpRequest, request_id: str) -> HttpResponse:
    if request.method != "GET":
        raise resource_not_found(request.method, request.path)
    if failure := arrive(request, None, latency.PLATFORM):
        return failure
    application = authenticated(request)
    reject_unknown_filters(request, WEBHOOK_FILTERS)
    rows = application.webhooks.order_by("created_at", "id")
    name, callback_uri = request.GET.get("filter[name]"), request.GET.get("filter[callbackUri]")
    if name:
        rows = rows.filter(name=name)
    if callback_uri:
        rows = rows.filter(url=callback_uri)
    enabled = boolean_filter(request, "filter[isEnabled]")
    if enabled is not None:
        rows = rows.filter(is_enabled=enabled)
    auto_subscribe = boolean_filter(request, "filter[autoSubscribe]")
    if auto_subscribe is not None:
        rows = rows.filter(auto_subscribe=auto_subscribe)
    page = paging(request, default_size=WEBHOOKS_PAGE[0], max_size=WEBHOOKS_PAGE[1])
    items = rows[page.offset : page.offset + page.size]
    document = page_document(
        request, "/webhooks", [webhook_json(row) for row in items], total=rows.count(), page=page
    )
    return api_json(document, request_id)


@jsonapi_view
def webhook_detail(request: HttpRequest, request_id: str, webhook_id: str) -> HttpResponse:
    if request.method != "GET":
        raise resource_not_found(request.method, request.path)
    if failure := arrive(request, None, latency.PLATFORM):
        return failure
    application = authenticated(request)
    webhook = application.webhooks.filter(webhook_id=webhook_id).first()
    if webhook is None:
        raise not_found("webhook", webhook_id)
    return api_json({"data": webhook_json(webhook)}, request_id)


# --- Subscriptions -----------------------------------------------------------------------------------------


def subscriptions_of(application: Application, mode: str | None = None) -> QuerySet[WebhookSubscription]:
    """The application's subscriptions (newest first), each with its vehicle's connection mode (its newest
    grant's), optionally only those in ``mode`` (live or simulated)."""
    newest_grant = Grant.objects.filter(application=application, vehicles=OuterRef("vehicle")).order_by(
        "-created_at", "-id"
    )
    rows = (
        WebhookSubscription.objects.filter(webhook__application=application)
        .select_related("webhook", "vehicle")
        .annotate(mode=Coalesce(Subquery(newest_grant.values("mode")[:1]), Value("live")))
        .order_by("-created_at", "-id")
    )
    if mode == "live":
        rows = rows.filter(mode="live")
    elif mode is not None:
        rows = rows.exclude(mode="live")
    return rows


def subscription_json(subscription: WebhookSubscription) -> dict[str, Any]:
    vehicle = subscription.vehicle
    mode = "live" if getattr(subscription, "mode", "live") == "live" else "simulated"
    return {
        "type": "subscription",
        "id": subscription.subscription_id,
        "attributes": {
            "vehicle": {
                "make": vehicle.make,
                "model": vehicle.model,
                "year": vehicle.year,
                "mode": mode,
                "powertrainType": POWERTRAIN_TYPES.get(vehicle.powertrain, vehicle.powertrain),
            }
        },
        "meta": {"createdAt": iso(subscription.created_at), "updatedAt": iso(subscription.updated_at)},
        "relationships": {
            "webhook": {"data": {"id": subscription.webhook.webhook_id, "type": "webhook"}},
            "user": {"data": {"id": subscription.user_id_for_events, "type": "user"}},
            "vehicle": {"data": {"id": vehicle.pk, "type": "vehicle"}},
        },
        "links": {"self": f"/subscriptions/{subscription.subscription_id}"},
    }


@jsonapi_view
def subscription_list(request: HttpRequest, request_id: str) -> HttpResponse:
    """GET lists the application's subscriptions (newest first); POST subscribes a user's vehicle."""
    if request.method not in ("GET", "POST"):
        raise resource_not_found(request.method, request.path)
    if failure := arrive(request, None, latency.PLATFORM):
        return failure
    application = authenticated(request)
    if request.method == "POST":
        return create_subscription(application, request, request_id)
    reject_unknown_filters(request, SUBSCRIPTION_FILTERS)
    mode = request.GET.get("filter[vehicle.mode]")
    if mode and mode not in MODES:
        raise validation_error("filter[vehicle.mode] must be live or simulated.", "filter[vehicle.mode]")
    rows = subscriptions_of(application, MODES[mode] if mode else None)
    user_id = request.GET.get("filter[userId]")
    if user_id:
        # A v2 subscription has no user of its own: its vehicle's owner is the user.
        rows = rows.filter(user_id=user_id) | rows.filter(user__isnull=True, vehicle__user_id=user_id)
    webhook_id = request.GET.get("filter[webhookId]")
    if webhook_id:
        rows = rows.filter(webhook__webhook_id=webhook_id)
    vehicle_id = request.GET.get("filter[vehicleId]")
    if vehicle_id:
        rows = rows.filter(vehicle_id=vehicle_id)
    page = paging(request, default_size=SUBSCRIPTIONS_PAGE[0], max_size=SUBSCRIPTIONS_PAGE[1])
    items = rows[page.offset : page.offset + page.size]
    document = page_document(
        request, "/subscriptions", [subscription_json(row) for row in items], total=rows.count(), page=page
    )
    return api_json(document, request_id)


def subscription_attributes(request: HttpRequest) -> tuple[str, str, str]:
    """``webhookId``, ``userId`` and ``vehicleId`` from ``{"data": {"attributes": {...}}}``, or 400."""
    try:
        body = json.loads(request.body) if request.body else None
    except (ValueError, UnicodeDecodeError) as error:
        raise validation_error("The request body is not valid JSON.", "body") from error
    data = body.get("data") if isinstance(body, dict) else None
    attributes = data.get("attributes") if isinstance(data, dict) else None
    if not isinstance(attributes, dict):
        raise validation_error(
            'The body must be {"data": {"attributes": {"webhookId", "userId", "vehicleId"}}}.',
            "data.attributes",
            code=MISSING_PARAMETER,
        )
    values = []
    for name in ("webhookId", "userId", "vehicleId"):
        value = attributes.get(name)
        if value is None or value == "":
            raise validation_error(f"missing {name}", f"data.attributes.{name}", code=MISSING_PARAMETER)
        if not isinstance(value, str) or len(value) > 100:
            raise validation_error(f"{name} must be a string id.", f"data.attributes.{name}")
        values.append(value)
    return values[0], values[1], values[2]


def create_subscription(application: Application, request: HttpRequest, request_id: str) -> HttpResponse:
    """202 and the FIRST_DELIVERY queued; 409 when the vehicle is already subscribed to the webhook; 404 for a
    webhook, user or vehicle the application does not have, or a vehicle the user has not connected to it."""
    webhook_id, user_id, vehicle_id = subscription_attributes(request)
    webhook = application.webhooks.filter(webhook_id=webhook_id).first()
    if webhook is None:
        raise not_found("webhook", webhook_id)
    connections = Connection.objects.filter(application=application)
    # Only the application's own users and vehicles exist for it: another application's are not revealed.
    user = SimulatedUser.objects.filter(pk=user_id, connections__application=application).first()
    if user is None:
        raise not_found("user", user_id)
    vehicle = SimulatedVehicle.objects.filter(pk=vehicle_id, connections__application=application).first()
    if vehicle is None:
        raise not_found("vehicle", vehicle_id)
    if not connections.filter(user=user, vehicle=vehicle).exists():
        raise ApiError(
            404,
            "RESOURCE_NOT_FOUND",
            "CONNECTION",
            f"User {user_id!r} has not connected vehicle {vehicle_id!r} to this application.",
        )
    subscription, created = webhooks.subscribe(webhook, vehicle, user.pk)
    if not created:
        raise ApiError(
            409,
            "RESOURCE_CONFLICT",
            "SUBSCRIPTION_EXISTS",
            f"Vehicle {vehicle_id!r} is already subscribed to webhook {webhook_id!r} "
            f"(subscription {subscription.subscription_id}).",
        )
    return api_json({"meta": {"message": "subscription creation in progress"}}, request_id, status=202)


@jsonapi_view
def subscription_detail(request: HttpRequest, request_id: str, subscription_id: str) -> HttpResponse:
    """GET one subscription; DELETE it (204): its vehicle gets no more events from that webhook."""
    if request.method not in ("GET", "DELETE"):
        raise resource_not_found(request.method, request.path)
    if failure := arrive(request, None, latency.PLATFORM):
        return failure
    application = authenticated(request)
    subscription = subscriptions_of(application).filter(subscription_id=subscription_id).first()
    if subscription is None:
        raise not_found("subscription", subscription_id)
    if request.method == "DELETE":
        WebhookSubscription.objects.filter(pk=subscription.pk).delete()
        response = HttpResponse(status=204)
        response["SC-Request-Id"] = request_id
        return response
    return api_json({"data": subscription_json(subscription)}, request_id)
