"""Webhooks: verifying and storing deliveries, turning events into vehicle data, and vehicle subscriptions.

A delivery is checked in this order, and nothing is stored or parsed before its signature verifies: known
endpoint (404), ``SC-Signature`` over the raw body with one of the endpoint's management tokens (401), JSON of a
known shape (400). The VERIFY handshake is answered at once; every other event is stored once (Smartcar
delivers at least once) and processed later by ``process_event``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import client, signals
from ..client.redaction import redact_text
from ..client.results import parse_datetime
from ..conf import management_tokens, smartcar_settings
from ..db import select_for_update
from ..models import Vehicle, WebhookEvent
from .tokens import mark_reauth_required
from .vehicles import DataPoint, apply_vehicle_data

logger = logging.getLogger(__name__)

# Headers kept with an event: enough to audit a delivery, nothing a proxy might add that carries credentials.
KEPT_HEADERS = ("Content-Type", "Content-Length", "SC-Signature", "User-Agent")
MILES_IN_KM = 1.609344


class WebhookRejected(Exception):
    """A delivery refused with an HTTP status and a message for the sender."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class Receipt:
    """What the receiver answers, and the stored event (None for VERIFY); ``created`` is False for a repeat."""

    answer: dict[str, Any]
    event: WebhookEvent | None = None
    created: bool = False


def endpoint_tokens(url_id: str) -> list[str] | None:
    """The management tokens that may sign deliveries to ``url_id``, newest first (None: unknown endpoint)."""
    for known_id, tokens in (smartcar_settings.WEBHOOK_ENDPOINTS or {}).items():
        if hmac.compare_digest(str(known_id), url_id):
            return [tokens] if isinstance(tokens, str) else list(tokens)
    default_id = smartcar_settings.WEBHOOK_URL_ID
    if default_id and hmac.compare_digest(str(default_id), url_id):
        return management_tokens()
    return None


def receive(url_id: str, body: bytes, headers: Mapping[str, str]) -> Receipt:
    """Verify, then answer VERIFY or store the event. Raises ``WebhookRejected`` for anything refused."""
    tokens = endpoint_tokens(url_id)
    if not tokens:
        raise WebhookRejected(404, "Unknown webhook endpoint.")
    signature = headers.get("SC-Signature") or ""
    if not signature:
        raise WebhookRejected(401, "Missing SC-Signature header.")
    verified_with = next(
        (index for index, token in enumerate(tokens) if client.verify_payload(token, signature, body)), None
    )
    if verified_with is None:
        raise WebhookRejected(401, "Invalid signature.")

    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected(400, "The body is not JSON.") from None
    event_type, version = _shape(payload)

    if event_type == "VERIFY":
        challenge = (payload.get("data") or payload.get("payload") or {}).get("challenge")
        if not isinstance(challenge, str) or not challenge:
            raise WebhookRejected(400, "VERIFY event without a challenge.")
        return Receipt({"challenge": client.hash_challenge(tokens[verified_with], challenge)})

    event_id = payload.get("eventId") or f"sha256:{hashlib.sha256(body).hexdigest()}"
    if not isinstance(event_id, str) or len(event_id) > 100:
        raise WebhookRejected(400, "Invalid eventId.")
    event = WebhookEvent(
        event_id=event_id,
        event_type=event_type,
        endpoint=url_id,
        version=version,
        body=body.decode(),
        headers={name: headers[name] for name in KEPT_HEADERS if name in headers},
        verified_with=verified_with,
    )
    # One INSERT, the unique event id catching repeats: the receiver must answer in milliseconds. Inside a
    # caller's transaction a savepoint keeps a repeat from breaking it.
    try:
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():
                event.save(force_insert=True)
        else:
            event.save(force_insert=True)
    except IntegrityError:
        return Receipt({"status": "duplicate"}, WebhookEvent.objects.get(event_id=event_id), created=False)
    transaction.on_commit(lambda: signals.webhook_received.send(sender=WebhookEvent, event=event))
    return Receipt({"status": "received"}, event, created=True)


def _shape(payload: Any) -> tuple[str, str]:
    """``(event_type, version)`` of a v4 (``eventType``/``data``) or v2 (``eventName``/``payload``) event."""
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "The body is not a JSON object.")
    if isinstance(payload.get("eventType"), str) and isinstance(payload.get("data"), dict):
        event_type = payload["eventType"].upper()
        if event_type in ("VEHICLE_STATE", "VEHICLE_ERROR") and not _v4_vehicle_id(payload):
            raise WebhookRejected(400, f"{event_type} event without data.vehicle.id.")
        return event_type, "4.0"
    if isinstance(payload.get("eventName"), str) and isinstance(payload.get("payload"), dict):
        event_name = payload["eventName"]
        if event_name.lower() == "verify":
            return "VERIFY", "2.0"
        vehicles = payload["payload"].get("vehicles")
        if not isinstance(vehicles, list) or not all(
            isinstance(item, dict) and isinstance(item.get("vehicleId"), str) for item in vehicles
        ):
            raise WebhookRejected(400, "v2 event without payload.vehicles[].vehicleId.")
        return event_name.upper(), "2.0"
    raise WebhookRejected(
        400, "Unknown event shape: expected eventType and data (v4) or eventName and payload (v2)."
    )


def _v4_vehicle_id(payload: dict[str, Any]) -> str | None:
    vehicle = payload["data"].get("vehicle")
    vehicle_id = vehicle.get("id") if isinstance(vehicle, dict) else None
    return vehicle_id if isinstance(vehicle_id, str) and vehicle_id else None


# --- Processing -----------------------------------------------------------------------------------------------


def process_event(event_pk: int) -> WebhookEvent:
    """Apply a stored event to the vehicles it concerns, once. Errors are recorded on the event and raised."""
    with transaction.atomic():
        event = select_for_update(WebhookEvent.objects.filter(pk=event_pk)).get()
        if event.processed_at is not None:
            return event
        event.attempts += 1
        try:
            updates = _apply(json.loads(event.body), received_at=event.received_at)
        except Exception as exc:
            event.last_error = redact_text(f"{type(exc).__name__}: {exc}")[:2000]
            event.save(update_fields=["attempts", "last_error"])
            logger.exception("Processing webhook event %s failed", event.event_id)
            failure = exc  # raised after the commit, so that the row keeps the error
        else:
            failure = None
            event.processed_at = timezone.now()
            event.last_error = ""
            event.save(update_fields=["attempts", "last_error", "processed_at"])
            transaction.on_commit(
                lambda: signals.webhook_processed.send(sender=WebhookEvent, event=event, updates=updates)
            )
    if failure is not None:
        raise failure
    return event


def _apply(payload: dict[str, Any], *, received_at: datetime) -> dict[Vehicle, list[str]]:
    updates: dict[Vehicle, list[str]] = {}
    if payload.get("eventType"):
        vehicle_id = _v4_vehicle_id(payload)
        if payload["eventType"].upper() == "VEHICLE_ERROR":
            _handle_errors(vehicle_id, payload["data"].get("errors") or [])
            return updates
        points = [_signal_point(signal, received_at) for signal in payload["data"].get("signals") or []]
        _apply_points(vehicle_id, [point for point in points if point], updates)
        return updates
    for item in payload["payload"].get("vehicles") or []:
        points, errors = [], []
        for answer in item.get("data") or []:
            if answer.get("code") == 200 and isinstance(answer.get("body"), dict):
                age = parse_datetime((answer.get("headers") or {}).get("sc-data-age"))
                points.append(DataPoint(answer.get("path", ""), answer["body"], age or received_at))
            elif isinstance(answer.get("body"), dict):
                errors.append(answer["body"])
        _handle_errors(item["vehicleId"], errors)
        _apply_points(item["vehicleId"], points, updates)
    return updates


def _apply_points(
    smartcar_id: str | None, points: list[DataPoint], updates: dict[Vehicle, list[str]]
) -> None:
    vehicle = Vehicle.objects.filter(smartcar_id=smartcar_id).first()
    if vehicle is None or not points:
        return  # a vehicle this site does not (or no longer) know
    # Several signals can feed one data group (battery level and range): merge them into one point.
    merged: dict[str, DataPoint] = {}
    for point in points:
        previous = merged.get(point.path)
        if previous is None:
            merged[point.path] = point
        else:
            ages = [age for age in (previous.age, point.age) if age]
            merged[point.path] = DataPoint(
                point.path, {**previous.body, **point.body}, max(ages) if ages else None
            )
    updates[vehicle] = apply_vehicle_data(vehicle, merged.values())


def _handle_errors(smartcar_id: str | None, errors: Iterable[dict[str, Any]]) -> None:
    for error in errors:
        resolution = error.get("resolution") or {}
        needs_reauth = error.get("type") == "AUTHENTICATION" or (
            isinstance(resolution, dict) and resolution.get("type") == "REAUTHENTICATE"
        )
        if not needs_reauth:
            continue
        vehicle = Vehicle.objects.select_related("account").filter(smartcar_id=smartcar_id).first()
        if vehicle is not None and vehicle.account.is_usable:
            mark_reauth_required(
                vehicle.account, str(error.get("description") or "Smartcar asked to re-authenticate.")
            )
        return


def _percent(body: dict[str, Any]) -> float:
    return float(body["value"]) / 100


def _distance_km(body: dict[str, Any]) -> float:
    value = float(body["value"])
    return value * MILES_IN_KM if str(body.get("unit", "km")).lower() in ("mi", "miles") else value


# v4 signal codes -> (the v2 path whose data group they fill, body in that path's shape).
SIGNALS = {
    "odometer-traveleddistance": ("/odometer", lambda body: {"distance": _distance_km(body)}),
    "location-preciselocation": (
        "/location",
        lambda body: {"latitude": float(body["latitude"]), "longitude": float(body["longitude"])},
    ),
    "closure-islocked": ("/security", lambda body: {"isLocked": bool(body["value"])}),
    "tractionbattery-stateofcharge": ("/battery", lambda body: {"percentRemaining": _percent(body)}),
    "charge-detailedchargingstatus": ("/charge", lambda body: {"state": str(body["value"])}),
    "internalcombustionengine-fuellevel": ("/fuel", lambda body: {"percentRemaining": _percent(body)}),
}


def _signal_point(signal: Any, received_at: datetime) -> DataPoint | None:
    if (
        not isinstance(signal, dict)
        or signal.get("code") not in SIGNALS
        or not isinstance(signal.get("body"), dict)
    ):
        return None  # signals this app does not store
    path, convert = SIGNALS[signal["code"]]
    meta = signal.get("meta") if isinstance(signal.get("meta"), dict) else {}
    age = parse_datetime(meta.get("oemUpdatedAt") or meta.get("retrievedAt"))
    return DataPoint(path, convert(signal["body"]), age or received_at)
