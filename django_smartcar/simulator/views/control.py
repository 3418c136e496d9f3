"""The simulator's own control API (``_simulator/...``), for driving a simulator that runs in another process.

Every call but ``health`` needs an application's management token (``Authorization: Bearer <amt>``). Called
by scripts and test suites, not browsers, hence csrf_exempt. Errors answer ``{"error": "..."}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .. import clock, faults, seeding, traffic, webhooks
from ..models import Application, Fault, SimulatedVehicle, Webhook, WebhookSubscription
from .credentials import management_application

FAULT_FIELDS = (
    "kind",
    "vehicle_id",
    "target",
    "retry_after",
    "fraction",
    "statuses",
    "latency_ms",
    "code",
    "seed",
    "remaining",
)

# Called with the request, the application, the JSON body, and then the URL's own parameters by name (which
# differ from view to view, so the type cannot list them).
ControlView = Callable[..., HttpResponse]


def problem(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def control(methods: tuple[str, ...]) -> Callable[[ControlView], Callable[..., HttpResponse]]:
    """Check method and management token, decode the JSON body, turn ValueError into a 400."""

    def decorate(view: ControlView) -> Callable[..., HttpResponse]:
        @csrf_exempt
        def wrapper(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                return problem(f"Use {' or '.join(methods)}.", status=405)
            application = management_application(request)
            if application is None:
                return problem(
                    "Send an application's management token as 'Authorization: Bearer <token>'.", 401
                )
            try:
                body = json.loads(request.body) if request.body else {}
            except (ValueError, UnicodeDecodeError):
                return problem("The body is not valid JSON.")
            if not isinstance(body, dict):
                return problem("The body must be a JSON object.")
            try:
                return view(request, application, body, **kwargs)
            except ValueError as error:
                return problem(str(error))

        wrapper.__name__ = view.__name__
        return wrapper

    return decorate


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def fault_json(fault: Fault) -> dict[str, Any]:
    return {"id": fault.pk, **{name: getattr(fault, name) for name in FAULT_FIELDS}}


@control(("GET", "POST", "DELETE"))
def fault_list(request: HttpRequest, application: Application, body: dict[str, Any]) -> HttpResponse:
    if request.method == "POST":
        unknown = set(body) - set(FAULT_FIELDS)
        if unknown:
            raise ValueError(f"Unknown field(s): {', '.join(sorted(unknown))}")
        fault = faults.build(**body)
        fault.save()
        return JsonResponse(fault_json(fault), status=201)
    if request.method == "DELETE":
        return JsonResponse({"deleted": faults.clear(request.GET.get("vehicle_id") or None)})
    return JsonResponse({"faults": [fault_json(fault) for fault in Fault.objects.all()]})


@control(("GET", "DELETE"))
def request_counts(request: HttpRequest, application: Application, body: dict[str, Any]) -> HttpResponse:
    """GET: what the Vehicle API received per vehicle, method and path (``?vehicle_id=`` for one vehicle);
    DELETE: reset those counters."""
    vehicle_id = request.GET.get("vehicle_id") or None
    if request.method == "DELETE":
        return JsonResponse({"deleted": traffic.reset(vehicle_id)})
    return JsonResponse(traffic.as_json(vehicle_id))


@control(("GET", "POST"))
def clock_control(request: HttpRequest, application: Application, body: dict[str, Any]) -> HttpResponse:
    if request.method == "POST":
        if "offset_seconds" in body:
            clock.set_offset(number(body, "offset_seconds"))
        elif "advance_seconds" in body:
            clock.advance(number(body, "advance_seconds"))
        else:
            raise ValueError("Send offset_seconds or advance_seconds.")
    return JsonResponse({"now": clock.now().isoformat(), "offset_seconds": clock.offset().total_seconds()})


# Far enough for any token lifetime, near enough for datetime arithmetic.
MAX_CLOCK_OFFSET = 10 * 365 * 24 * 3600


def number(body: dict[str, Any], name: str) -> float:
    value = body[name]
    if not isinstance(value, int | float) or isinstance(value, bool) or abs(value) > MAX_CLOCK_OFFSET:
        raise ValueError(f"{name} must be a number of seconds within ten years")
    return float(value)


def vehicle_json(vehicle: SimulatedVehicle) -> dict[str, Any]:
    return {
        "id": vehicle.id,
        "userId": vehicle.user_id,
        "make": vehicle.make,
        "model": vehicle.model,
        "year": vehicle.year,
        "vin": vehicle.vin,
        "powertrain": vehicle.powertrain,
        "dataAgeHours": vehicle.data_age_hours,
        "sleepCycleMinutes": (
            {"awake": vehicle.awake_minutes, "asleep": vehicle.asleep_minutes}
            if vehicle.awake_minutes and vehicle.asleep_minutes
            else None
        ),
    }


@control(("POST",))
def seed(request: HttpRequest, application: Application, body: dict[str, Any]) -> HttpResponse:
    count, seed_value = body.get("count", 1), body.get("seed", 0)
    email, make = body.get("email", "driver@example.com"), body.get("make")
    if not isinstance(count, int) or not 0 <= count <= 1000 or not isinstance(seed_value, int):
        raise ValueError("count must be an integer from 0 to 1000 and seed an integer")
    try:
        validate_email(email)
    except ValidationError as error:
        raise ValueError("email must be an email address") from error
    if make is not None and make not in seeding.MAKES:
        raise ValueError(f"make must be one of {', '.join(seeding.MAKES)}")
    traits = body.get("traits")
    if traits is not None and not isinstance(traits, bool):
        raise ValueError("traits must be true or false (default: the SEED_TRAITS setting)")
    vehicles = seeding.seed_vehicles(
        count,
        seed=seed_value,
        email=email,
        make=make,
        application=application if body.get("connect") else None,
        traits=traits,
    )
    return JsonResponse({"vehicles": [vehicle_json(vehicle) for vehicle in vehicles]}, status=201)


WEBHOOK_FIELDS = (
    "url",
    "webhook_id",
    "name",
    "version",
    "is_enabled",
    "triggers",
    "data",
    "error_callback_uri",
    "auto_subscribe",
)


def is_http_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false")
    return value


def signal_codes(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
        raise ValueError(f"{name} must be a list of signal codes")
    return value


@control(("POST",))
def webhook_list(request: HttpRequest, application: Application, body: dict[str, Any]) -> HttpResponse:
    """Register (or replace, by ``webhook_id``) a webhook and verify it; with the attributes the Management API
    V3 shows: ``is_enabled``, ``triggers`` and ``data`` (signal codes), ``error_callback_uri``,
    ``auto_subscribe``."""
    unknown = set(body) - set(WEBHOOK_FIELDS)
    if unknown:
        raise ValueError(f"Unknown field(s): {', '.join(sorted(unknown))}")
    if not is_http_url(body.get("url")):
        raise ValueError("url must be an http(s) URL")
    error_url = body.get("error_callback_uri") or ""
    if error_url and not is_http_url(error_url):
        raise ValueError("error_callback_uri must be an http(s) URL")
    webhook_id = body.get("webhook_id")
    if webhook_id is not None and (not isinstance(webhook_id, str) or not 0 < len(webhook_id) <= 100):
        raise ValueError("webhook_id must be a string of 1 to 100 characters")
    if Webhook.objects.filter(webhook_id=webhook_id).exclude(application=application).exists():
        raise ValueError("webhook_id belongs to another application")
    webhook = webhooks.register_webhook(
        application,
        body["url"],
        webhook_id=webhook_id,
        name=str(body.get("name", "Simulated webhook")),
        version=str(body.get("version", "4.0")),
        verify=False,
        is_enabled=flag(body, "is_enabled", True),
        triggers=signal_codes(body, "triggers"),
        data=signal_codes(body, "data"),
        error_url=error_url,
        auto_subscribe=flag(body, "auto_subscribe", False),
    )
    result = webhooks.verify_webhook(webhook)
    return JsonResponse(
        {"webhookId": webhook.webhook_id, "verified": webhook.verified_at is not None, "error": result.error},
        status=201,
    )


@control(("POST",))
def webhook_detail(
    request: HttpRequest, application: Application, body: dict[str, Any], webhook_id: str
) -> HttpResponse:
    """``{"is_enabled": false}`` disables a webhook (it is sent nothing); ``true`` enables it again, which
    sends every subscribed vehicle a FIRST_DELIVERY."""
    webhook = Webhook.objects.filter(application=application, webhook_id=webhook_id).first()
    if webhook is None:
        return problem(f"No webhook {webhook_id!r} for this application.", status=404)
    if set(body) != {"is_enabled"}:
        raise ValueError('Send {"is_enabled": true or false}.')
    webhooks.set_enabled(webhook, flag(body, "is_enabled", True))
    return JsonResponse({"webhookId": webhook.webhook_id, "isEnabled": webhook.is_enabled})


@control(("POST",))
def webhook_deliver(
    request: HttpRequest, application: Application, body: dict[str, Any], webhook_id: str
) -> HttpResponse:
    webhook = Webhook.objects.filter(application=application, webhook_id=webhook_id).first()
    if webhook is None:
        return problem(f"No webhook {webhook_id!r} for this application.", status=404)
    vehicle_id = body.get("vehicle_id")
    chosen = SimulatedVehicle.objects.filter(pk=vehicle_id) if vehicle_id else None
    triggers = body.get("triggers")
    if triggers is not None and (
        not isinstance(triggers, list) or not all(isinstance(code, str) for code in triggers)
    ):
        raise ValueError("triggers must be a list of signal codes")
    error = body.get("error")
    try:
        if error is not None:
            # {"error": {"type": "VEHICLE_STATE", "code": "UNREACHABLE"}, "vehicle_id": ..., "resolved": false}
            vehicle = SimulatedVehicle.objects.filter(pk=vehicle_id).first() if vehicle_id else None
            if vehicle is None or not isinstance(error, dict) or not isinstance(error.get("type"), str):
                raise ValueError("error needs a vehicle_id and an object with a type (and a code)")
            code = error.get("code")
            deliveries = [
                webhooks.report_error(
                    webhook,
                    vehicle,
                    error["type"],
                    code if isinstance(code, str) else None,
                    resolved=bool(body.get("resolved")),
                )
            ]
        else:
            deliveries = webhooks.deliver(webhook, chosen, triggers=triggers)
    except webhooks.WebhookError as failure:
        return problem(str(failure), status=409)
    except WebhookSubscription.DoesNotExist:
        return problem("That vehicle is not subscribed to this webhook.", status=409)
    return deliveries_json(deliveries)


def deliveries_json(deliveries: list[webhooks.Delivery]) -> JsonResponse:
    return JsonResponse(
        {
            "deliveries": [
                {
                    "vehicleId": d.vehicle_id,
                    "eventType": d.event_type,
                    "statusCode": d.status_code,
                    "error": d.error,
                }
                for d in deliveries
            ]
        }
    )


@control(("POST",))
def webhook_deliver_due(request: HttpRequest, application: Application, body: dict[str, Any]) -> HttpResponse:
    """Send the pending deliveries that are due now: FIRST_DELIVERY events and redeliveries of failed ones."""
    return deliveries_json(webhooks.deliver_due(application=application))
