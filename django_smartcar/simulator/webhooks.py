"""Webhooks: registration with Smartcar's VERIFY handshake, and signed event deliveries.

Every delivery is a POST of JSON whose exact bytes are signed in ``SC-Signature``: the hex HMAC-SHA256 of the
body keyed with the application's management token. Registering a webhook sends a VERIFY event carrying a
challenge; the receiver must answer 200 ``{"challenge": hex_hmac(amt, challenge)}``, and only then does the
simulator deliver events to it. Deliveries happen when asked for (``deliver()``, or the control API), never on
a timer, so tests decide when a webhook fires.

Payloads follow the webhook's version: 4.0 (``eventType``, ``data``, ``meta``) or 2.0 (``eventName``,
``payload``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import requests

from . import clock
from .models import Application, SimulatedVehicle, Webhook
from .permissions import ALL_SCOPES
from .vehicle_api import batch, iso
from .vehicle_state import given, live_state

DELIVERY_TIMEOUT = 15.0  # seconds; Smartcar gives receivers as long to answer
V2_PATHS = ("/odometer", "/location", "/security", "/battery", "/charge", "/fuel")


class WebhookError(Exception):
    """A webhook cannot be used as asked (e.g. delivering to one that never passed VERIFY)."""


@dataclass(frozen=True)
class Delivery:
    """What happened to one POST: the receiver's status, or the network error that prevented one."""

    vehicle_id: str | None
    event_type: str
    status_code: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def sign(management_token: str, body: bytes) -> str:
    return hmac.new(management_token.encode(), body, hashlib.sha256).hexdigest()


def post(
    webhook: Webhook, payload: dict[str, Any], *, vehicle_id: str | None, event_type: str
) -> tuple[Delivery, Any]:
    """Sign and send ``payload``; returns the delivery and the receiver's decoded JSON answer (or None)."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "SC-Signature": sign(webhook.application.management_token, body),
        "User-Agent": "Smartcar-Simulator-Webhooks/1.0",
    }
    try:
        response = requests.post(webhook.url, data=body, headers=headers, timeout=DELIVERY_TIMEOUT)
    except requests.RequestException as error:
        return Delivery(vehicle_id, event_type, None, f"{type(error).__name__}: {error}"), None
    try:
        answer = response.json()
    except ValueError:
        answer = None
    return Delivery(vehicle_id, event_type, response.status_code), answer


def meta(webhook: Webhook) -> dict[str, Any]:
    return {
        "version": "4.0",
        "webhookId": webhook.webhook_id,
        "webhookName": webhook.name,
        "deliveryId": str(uuid.uuid4()),
        "deliveredAt": int(clock.now().timestamp() * 1000),
        "mode": "LIVE",
    }


def verify_payload(webhook: Webhook, challenge: str) -> dict[str, Any]:
    if webhook.version == "2.0":
        return {
            "version": "2.0",
            "webhookId": webhook.webhook_id,
            "eventName": "verify",
            "payload": {"challenge": challenge},
        }
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": "VERIFY",
        "data": {"challenge": challenge},
        "meta": meta(webhook),
    }


def register_webhook(
    application: Application,
    url: str,
    *,
    webhook_id: str | None = None,
    name: str = "Simulated webhook",
    version: str = "4.0",
    verify: bool = True,
) -> Webhook:
    """Register a webhook (or update the one with ``webhook_id``) and, unless told not to, verify it now."""
    if version not in ("2.0", "4.0"):
        raise ValueError("version must be '2.0' or '4.0'")
    webhook, _ = Webhook.objects.update_or_create(
        webhook_id=webhook_id or str(uuid.uuid4()),
        defaults={
            "application": application,
            "url": url,
            "name": name,
            "version": version,
            "verified_at": None,
        },
    )
    if verify:
        verify_webhook(webhook)
    return webhook


def verify_webhook(webhook: Webhook) -> Delivery:
    """Send the VERIFY challenge; the webhook is verified only if the receiver answers it correctly."""
    challenge = secrets.token_hex(16)
    delivery, answer = post(webhook, verify_payload(webhook, challenge), vehicle_id=None, event_type="VERIFY")
    expected = sign(webhook.application.management_token, challenge.encode())
    received = answer.get("challenge") if isinstance(answer, dict) else None
    if delivery.ok and isinstance(received, str) and hmac.compare_digest(received, expected):
        webhook.verified_at = clock.now()
        webhook.save(update_fields=["verified_at"])
        return delivery
    webhook.verified_at = None
    webhook.save(update_fields=["verified_at"])
    reason = "wrong challenge answer"
    if not delivery.ok:
        reason = delivery.error or f"HTTP {delivery.status_code}"
    return Delivery(None, "VERIFY", delivery.status_code, f"verification failed: {reason}")


def vehicle_event(webhook: Webhook, vehicle: SimulatedVehicle) -> dict[str, Any]:
    """The event for one vehicle's current state, in the webhook's payload version."""
    now = clock.now()
    if webhook.version == "2.0":
        paths = [{"path": path} for path in V2_PATHS]
        answer = batch(
            vehicle,
            paths,
            unit_system="metric",
            now=now,
            scope=list(ALL_SCOPES),
            asleep=False,
            request_id=str(uuid.uuid4()),
        )
        usable = [item for item in answer["responses"] if item["code"] == 200]
        return {
            "version": "2.0",
            "webhookId": webhook.webhook_id,
            "eventName": "schedule",
            "mode": "live",
            "payload": {
                "vehicles": [{"vehicleId": vehicle.id, "requestId": str(uuid.uuid4()), "data": usable}]
            },
        }
    state = live_state(vehicle, now)
    stamp = {"oemUpdatedAt": iso(now), "retrievedAt": iso(now)}
    signals = [
        {"code": "odometer-traveleddistance", "body": {"value": round(state.odometer_km, 1), "unit": "km"}},
        {
            "code": "location-preciselocation",
            "body": {"latitude": state.latitude, "longitude": state.longitude},
        },
        {"code": "closure-islocked", "body": {"value": vehicle.is_locked}},
    ]
    if vehicle.is_electric:
        signals.append(
            {
                "code": "tractionbattery-stateofcharge",
                "body": {"value": round(given(state.battery_level, "battery level") * 100, 1)},
            }
        )
        signals.append({"code": "charge-detailedchargingstatus", "body": {"value": state.charging_state}})
    else:
        signals.append(
            {
                "code": "internalcombustionengine-fuellevel",
                "body": {"value": round(given(state.fuel_level, "fuel level") * 100, 1)},
            }
        )
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": "VEHICLE_STATE",
        "data": {
            "user": {"id": vehicle.user_id},
            "vehicle": {"id": vehicle.id, "make": vehicle.make, "model": vehicle.model, "year": vehicle.year},
            "signals": [{**signal, "meta": stamp} for signal in signals],
        },
        "meta": meta(webhook),
    }


def deliver(webhook: Webhook, vehicles: Iterable[SimulatedVehicle] | None = None) -> list[Delivery]:
    """Send one event per subscribed vehicle (or per given vehicle among them) to a verified webhook."""
    if webhook.verified_at is None:
        raise WebhookError(f"Webhook {webhook.webhook_id} has not passed the VERIFY handshake.")
    subscribed = SimulatedVehicle.objects.filter(webhook_subscriptions__webhook=webhook)
    if vehicles is not None:
        subscribed = subscribed.filter(pk__in=[vehicle.pk for vehicle in vehicles])
    deliveries = []
    for vehicle in subscribed:
        payload = vehicle_event(webhook, vehicle)
        event_type = payload.get("eventType") or payload["eventName"]
        delivery, _ = post(webhook, payload, vehicle_id=vehicle.id, event_type=event_type)
        deliveries.append(delivery)
    return deliveries
