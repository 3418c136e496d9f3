"""Webhooks: registration with Smartcar's VERIFY handshake, and signed event deliveries as Smartcar sends them.

Every delivery is a POST of JSON whose exact bytes are signed in ``SC-Signature``: the hex HMAC-SHA256 of the
body keyed with the application's management token. Bodies are written as Smartcar's service writes JSON
(compact, integers without ``.0``, non-ASCII as UTF-8), so a receiver that re-serializes the parsed body before
checking the signature still matches. Registering a webhook sends a VERIFY event carrying a challenge; the
receiver must answer 200 ``{"challenge": hex_hmac(amt, challenge)}``, and only then does the simulator deliver
events to it.

Payloads follow the webhook's version: 4.0 (``eventType``, ``data``, ``triggers``, ``meta``, as captured from
the real service in 2026) or 2.0 (``eventName``, ``payload``). A v4 VEHICLE_STATE carries every configured
signal (``SIGNALS``); one the vehicle cannot give, or the grant does not permit, is listed with
``status.value`` ERROR and no body; a plug-in hybrid gives both its battery and its fuel signals, and a stale
car's are as old as its data. A vehicle that sleeps (the ``asleep`` fault, or its own sleep cycle) gets a VEHICLE_ERROR with
state ERROR instead, and a VEHICLE_ERROR with state RESOLVED at its next delivery.

Deliveries happen when asked for (``deliver()``, or the control API). What cannot be delivered now waits in
``PendingDelivery``: a FIRST_DELIVERY queued on subscribe, and every failed attempt (non-2xx, no answer within
``WEBHOOK_DELIVERY_TIMEOUT``, refused), retried with the same ``eventId`` 25, 50 and 100 s after the previous
attempt (times ``WEBHOOK_TIME_SCALE``), then dropped. ``deliver_due()`` sends what is due; the standalone
simulator runs it in a background thread, tests call it (or the control API) when they choose.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import secrets
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from django.db import close_old_connections

from . import clock, faults
from .errors import (
    STATUSES,
    VEHICLE_STATE_USER_MESSAGES,
    ApiError,
    connected_services_account_error,
)
from .models import Application, PendingDelivery, SimulatedVehicle, Webhook, WebhookSubscription
from .permissions import ALL_SCOPES
from .signals import SIGNALS, SIGNALS_BY_CODE, Signal, epoch_ms, scope_of
from .signals import signal_entries as build_signal_entries
from .vehicle_api import batch, iso
from .vehicle_state import is_sleeping, live_state, reading_time

logger = logging.getLogger(__name__)

DELIVERY_TIMEOUT = 15.0  # seconds; Smartcar gives receivers as long to answer (WEBHOOK_DELIVERY_TIMEOUT)
# Seconds after a failed attempt before the next one [deliv]: attempts at t=0, +25, +50, +100 s, then dropped.
RETRY_DELAYS: tuple[float, ...] = (25.0, 50.0, 100.0)
USER_AGENT = "Smartcar/4.0 (simulator)"
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


def _settings() -> dict[str, Any]:
    return faults.simulator_settings()


def time_scale() -> float:
    """Real seconds per Smartcar second for redelivery delays (``WEBHOOK_TIME_SCALE``, default 1)."""
    return faults.positive_setting(_settings().get("WEBHOOK_TIME_SCALE", 1.0), "WEBHOOK_TIME_SCALE")


def delivery_timeout() -> float:
    timeout = _settings().get("WEBHOOK_DELIVERY_TIMEOUT", DELIVERY_TIMEOUT)
    return faults.positive_setting(timeout, "WEBHOOK_DELIVERY_TIMEOUT")


def _smartcar_numbers(value: Any) -> Any:
    """Integral floats as integers, as Smartcar's service (a JavaScript JSON writer) writes them: 42, not 42.0."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {key: _smartcar_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_smartcar_numbers(item) for item in value]
    return value


def serialize(payload: dict[str, Any]) -> bytes:
    """The body as Smartcar writes it: compact separators, integers without ``.0``, non-ASCII as UTF-8.

    Parsing it and writing it again compactly (``JSON.stringify(JSON.parse(body))``, or Python's
    ``json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False)``) gives the same bytes.
    """
    return json.dumps(_smartcar_numbers(payload), separators=(",", ":"), ensure_ascii=False).encode()


def post(
    webhook: Webhook, payload: dict[str, Any], *, vehicle_id: str | None, event_type: str
) -> tuple[Delivery, Any]:
    """Sign and send ``payload``; returns the delivery and the receiver's decoded JSON answer (or None).

    Any 2xx within the delivery timeout is a success; a 3xx is a failure (redirects are not followed).
    """
    body = serialize(payload)
    # VEHICLE_ERROR events go to the error callback URI when the webhook has one [resp].
    url = webhook.error_url if event_type == "VEHICLE_ERROR" and webhook.error_url else webhook.url
    headers = {
        "Content-Type": "application/json",
        "SC-Signature": sign(webhook.application.management_token, body),
        "User-Agent": USER_AGENT,
    }
    try:
        response = requests.post(
            url, data=body, headers=headers, timeout=delivery_timeout(), allow_redirects=False
        )
    except requests.RequestException as error:
        return Delivery(vehicle_id, event_type, None, f"{type(error).__name__}: {error}"), None
    try:
        answer = response.json()
    except ValueError:
        answer = None
    return Delivery(vehicle_id, event_type, response.status_code), answer


def meta(webhook: Webhook, *, signal_count: int | None = None) -> dict[str, Any]:
    """``meta`` in the captured order; ``deliveryId``/``deliveredAt`` are replaced on every attempt."""
    fields: dict[str, Any] = {
        "deliveryId": str(uuid.uuid4()),
        "deliveredAt": epoch_ms(clock.now()),
        "version": "4.0",
        "webhookId": webhook.webhook_id,
        "webhookName": webhook.name,
        "mode": "LIVE",
    }
    if signal_count is not None:
        fields["signalCount"] = signal_count
    return fields


def verify_payload(webhook: Webhook, challenge: str) -> dict[str, Any]:
    if webhook.version == "2.0":
        return {
            "version": "2.0",
            "webhookId": webhook.webhook_id,
            "eventName": "verify",
            "payload": {"challenge": challenge},
        }
    # As captured [HA #39]: VERIFY's deliveredAt is an ISO string, and its meta has no mode.
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": "VERIFY",
        "data": {"challenge": challenge},
        "meta": {
            "version": "4.0",
            "webhookId": webhook.webhook_id,
            "webhookName": webhook.name,
            "deliveryId": str(uuid.uuid4()),
            "deliveredAt": iso(clock.now()),
        },
    }


def register_webhook(
    application: Application,
    url: str,
    *,
    webhook_id: str | None = None,
    name: str = "Simulated webhook",
    version: str = "4.0",
    verify: bool = True,
    is_enabled: bool = True,
    triggers: Sequence[str] = (),
    data: Sequence[str] = (),
    error_url: str = "",
    auto_subscribe: bool = False,
) -> Webhook:
    """Register a webhook (or update the one with ``webhook_id``) and, unless told not to, verify it now.

    ``triggers``: signal codes whose change (by a command) sends a VEHICLE_STATE by itself; ``data``: the signal
    codes its VEHICLE_STATE events carry (empty: all of ``SIGNALS``); ``error_url``: where VEHICLE_ERROR events
    go (empty: ``url``); ``auto_subscribe``: vehicles connected from now on are subscribed. As the Management
    API V3 shows them (``/v3/webhooks``).
    """
    if version not in ("2.0", "4.0"):
        raise ValueError("version must be '2.0' or '4.0'")
    for field, codes in (("triggers", triggers), ("data", data)):
        unknown = [code for code in codes if code not in SIGNALS_BY_CODE]
        if unknown:
            raise ValueError(f"{field}: unknown signal code(s) {', '.join(map(str, unknown))}")
    defaults = {
        "application": application,
        "url": url,
        "name": name,
        "version": version,
        "verified_at": None,
        "is_enabled": is_enabled,
        "triggers": list(triggers),
        "data_signals": list(data),
        "error_url": error_url,
        "auto_subscribe": auto_subscribe,
    }
    webhook, _ = Webhook.objects.update_or_create(
        webhook_id=webhook_id or str(uuid.uuid4()),
        defaults=defaults,
        create_defaults={**defaults, "created_at": clock.now()},
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


# --- v4 signals: built by ``signals`` (shared with API V3's GET .../signals) -------------------------------------


def configured_signals(webhook: Webhook) -> tuple[Signal, ...]:
    """The signals the webhook's VEHICLE_STATE events carry: its ``data`` codes, or every signal."""
    if not webhook.data_signals:
        return SIGNALS
    return tuple(signal for signal in SIGNALS if signal.code in webhook.data_signals)


def _scope(webhook: Webhook, vehicle: SimulatedVehicle) -> list[str]:
    return scope_of(webhook.application, vehicle)


def signal_entries(webhook: Webhook, vehicle: SimulatedVehicle, now: datetime) -> list[dict[str, Any]]:
    """Every signal the webhook is configured with (``configured_signals``) as its application may read it (see
    ``signals``)."""
    codes = {signal.code for signal in configured_signals(webhook)}
    return [
        entry
        for entry in build_signal_entries(vehicle, _scope(webhook, vehicle), now)
        if entry["code"] in codes
    ]


def _vehicle_data(vehicle: SimulatedVehicle, user_id: str | None) -> dict[str, Any]:
    """``user`` (the subscription's user, else the owner) and ``vehicle``, as every v4 event starts ``data``."""
    return {
        "user": {"id": user_id or vehicle.user_id},
        "vehicle": {"id": vehicle.id, "make": vehicle.make, "model": vehicle.model, "year": vehicle.year},
    }


def vehicle_event(
    webhook: Webhook,
    vehicle: SimulatedVehicle,
    *,
    first_delivery: bool = False,
    triggers: Sequence[str] | None = None,
    user_id: str | None = None,
) -> dict[str, Any]:
    """The event for one vehicle's current state, in the webhook's payload version.

    v4: ``triggers`` names the signal codes that changed (SIGNAL_UPDATED); by default every signal read. A
    FIRST_DELIVERY (on subscribe) has the one trigger ``{"type": "FIRST_DELIVERY"}``.
    """
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
    signals = signal_entries(webhook, vehicle, now)
    if first_delivery:
        fired: list[dict[str, Any]] = [{"type": "FIRST_DELIVERY"}]
    else:
        read = [entry["code"] for entry in signals if entry["status"]["value"] == "SUCCESS"]
        codes = [code for code in triggers if code in SIGNALS_BY_CODE] if triggers is not None else read
        fired = [{"type": "SIGNAL_UPDATED", "signal": SIGNALS_BY_CODE[code].ref()} for code in codes]
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": "VEHICLE_STATE",
        "data": {**_vehicle_data(vehicle, user_id), "signals": signals},
        "triggers": fired,
        "meta": meta(webhook, signal_count=len(signals)),
    }


ERROR_DESCRIPTIONS = {
    (
        "VEHICLE_STATE",
        "ASLEEP",
    ): "The vehicle is in a sleep state and temporarily unable to perform your request.",
    (
        "VEHICLE_STATE",
        "UNREACHABLE",
    ): "The vehicle was unable to perform your request because it is currently unreachable.",
}
RESOLVED_DESCRIPTIONS = {"VEHICLE_STATE": "The vehicle is now reachable."}


def error_event(
    webhook: Webhook,
    vehicle: SimulatedVehicle,
    errors: Sequence[dict[str, Any]],
    *,
    state: str,
    user_id: str | None = None,
) -> dict[str, Any]:
    """A VEHICLE_ERROR about ``errors`` ({type, code}) with ``state`` ERROR or RESOLVED [ev].

    Each error concerns every configured signal the grant permits (the data the car could not be read for).
    """
    scope = _scope(webhook, vehicle)
    concerned = [signal.ref() for signal in configured_signals(webhook) if signal.permission in scope]
    entries = []
    for error in errors:
        kind, code = str(error.get("type")), error.get("code")
        entry: dict[str, Any] = {"type": kind, "code": code, "state": state}
        if state == "ERROR":
            # The fields the REST API's error body has for the same type and code [ev lists them]: its
            # description, suggestedUserMessage where documented, docURL and resolution.
            if kind == "CONNECTED_SERVICES_ACCOUNT":
                api_error = connected_services_account_error(str(code))
            else:
                description = ERROR_DESCRIPTIONS.get((kind, str(code)), "The vehicle cannot be read now.")
                api_error = ApiError(STATUSES.get(kind, 409), kind, code, description)
                if kind == "VEHICLE_STATE":
                    api_error.suggested_user_message = VEHICLE_STATE_USER_MESSAGES.get(str(code))
            body = api_error.body(request_id="")
            entry["description"] = body["description"]
            if "suggestedUserMessage" in body:
                entry["suggestedUserMessage"] = body["suggestedUserMessage"]
            entry["docURL"] = body["docURL"]
            entry["resolution"] = body["resolution"]
        else:
            entry["description"] = RESOLVED_DESCRIPTIONS.get(kind, "The error is resolved.")
        entry["signals"] = concerned
        entries.append(entry)
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": "VEHICLE_ERROR",
        "data": {**_vehicle_data(vehicle, user_id), "errors": entries},
        "meta": meta(webhook),
    }


# --- Delivering, and delivering again -----------------------------------------------------------------------


def _attempt(webhook: Webhook, payload: dict[str, Any], *, vehicle_id: str, attempts_before: int) -> Delivery:
    """One attempt (a new deliveryId and deliveredAt each time); a failure is queued for the next attempt,
    or dropped after the last."""
    if isinstance(payload.get("meta"), dict) and payload.get("eventType"):
        fresh = meta(webhook)
        payload = {
            **payload,
            "meta": {**payload["meta"], **{key: fresh[key] for key in ("deliveryId", "deliveredAt")}},
        }
    event_type = payload.get("eventType") or payload.get("eventName") or ""
    delivery, _ = post(webhook, payload, vehicle_id=vehicle_id, event_type=event_type)
    attempts = attempts_before + 1
    if not delivery.ok:
        if attempts <= len(RETRY_DELAYS):
            PendingDelivery.objects.create(
                webhook=webhook,
                vehicle_id=vehicle_id,
                event_type=event_type,
                payload=serialize(payload).decode(),
                attempts=attempts,
                due_at=clock.now() + timedelta(seconds=RETRY_DELAYS[attempts - 1] * time_scale()),
            )
        else:
            logger.info("Dropped %s event %s after %s attempts", event_type, payload.get("eventId"), attempts)
    return delivery


def is_asleep(vehicle: SimulatedVehicle) -> bool:
    """Whether the car sleeps now: the ``asleep`` fault, or its own sleep cycle (a catalogue sleeper)."""
    return faults.is_asleep(vehicle.pk) or is_sleeping(vehicle, clock.now())


def _check_verified(webhook: Webhook) -> None:
    if webhook.verified_at is None:
        raise WebhookError(f"Webhook {webhook.webhook_id} has not passed the VERIFY handshake.")


def deliver(
    webhook: Webhook,
    vehicles: Iterable[SimulatedVehicle] | None = None,
    *,
    triggers: Sequence[str] | None = None,
) -> list[Delivery]:
    """Send one event per subscribed vehicle (or per given vehicle among them) to a verified webhook.

    v4: a sleeping vehicle (the ``asleep`` fault, or a car asleep in its sleep cycle) gets a VEHICLE_ERROR VEHICLE_STATE/ASLEEP (state ERROR),
    remembered on the subscription; at its next delivery it gets a VEHICLE_ERROR with state RESOLVED first.
    A failed attempt is retried by ``deliver_due``.
    """
    _check_verified(webhook)
    if not webhook.is_enabled:
        return []  # a disabled webhook is sent nothing [deliv]
    subscriptions = WebhookSubscription.objects.filter(webhook=webhook).select_related("vehicle")
    if vehicles is not None:
        subscriptions = subscriptions.filter(vehicle__in=[vehicle.pk for vehicle in vehicles])
    deliveries = []
    for subscription in subscriptions.order_by("vehicle_id"):
        vehicle = subscription.vehicle
        user_id = subscription.user_id_for_events
        if webhook.version == "4.0":
            if is_asleep(vehicle):
                error = {"type": "VEHICLE_STATE", "code": "ASLEEP"}
                payload = error_event(webhook, vehicle, [error], state="ERROR", user_id=user_id)
                if error not in subscription.open_errors:
                    subscription.open_errors = [*subscription.open_errors, error]
                    subscription.save(update_fields=["open_errors"])
                deliveries.append(_attempt(webhook, payload, vehicle_id=vehicle.pk, attempts_before=0))
                continue
            if subscription.open_errors:
                payload = error_event(
                    webhook, vehicle, subscription.open_errors, state="RESOLVED", user_id=user_id
                )
                subscription.open_errors = []
                subscription.save(update_fields=["open_errors"])
                deliveries.append(_attempt(webhook, payload, vehicle_id=vehicle.pk, attempts_before=0))
        payload = vehicle_event(webhook, vehicle, triggers=triggers, user_id=user_id)
        deliveries.append(_attempt(webhook, payload, vehicle_id=vehicle.pk, attempts_before=0))
    return deliveries


def report_error(
    webhook: Webhook, vehicle: SimulatedVehicle, error_type: str, code: str | None, *, resolved: bool = False
) -> Delivery:
    """Send a VEHICLE_ERROR about one vehicle now (state ERROR, or RESOLVED), and remember it as open or not."""
    _check_verified(webhook)
    subscription = WebhookSubscription.objects.get(webhook=webhook, vehicle=vehicle)
    error = {"type": error_type, "code": code}
    if resolved:
        subscription.open_errors = [item for item in subscription.open_errors if item != error]
    elif error not in subscription.open_errors:
        subscription.open_errors = [*subscription.open_errors, error]
    subscription.save(update_fields=["open_errors"])
    payload = error_event(
        webhook,
        vehicle,
        [error],
        state="RESOLVED" if resolved else "ERROR",
        user_id=subscription.user_id_for_events,
    )
    return _attempt(webhook, payload, vehicle_id=vehicle.pk, attempts_before=0)


def queue_first_delivery(
    webhook: Webhook, vehicle: SimulatedVehicle, *, user_id: str | None = None
) -> PendingDelivery | None:
    """On subscribe: queue the FIRST_DELIVERY VEHICLE_STATE, sent by the next ``deliver_due`` (v4, verified,
    enabled)."""
    return _queue_state(webhook, vehicle, user_id=user_id, first_delivery=True)


def _queue_state(
    webhook: Webhook,
    vehicle: SimulatedVehicle,
    *,
    user_id: str | None,
    first_delivery: bool = False,
    triggers: Sequence[str] | None = None,
) -> PendingDelivery | None:
    if webhook.verified_at is None or webhook.version != "4.0" or not webhook.is_enabled:
        return None
    payload = vehicle_event(
        webhook, vehicle, first_delivery=first_delivery, triggers=triggers, user_id=user_id
    )
    return PendingDelivery.objects.create(
        webhook=webhook,
        vehicle_id=vehicle.pk,
        event_type="VEHICLE_STATE",
        payload=serialize(payload).decode(),
        attempts=0,
        due_at=clock.now(),
    )


def subscribe(
    webhook: Webhook, vehicle: SimulatedVehicle, user_id: str | None = None
) -> tuple[WebhookSubscription, bool]:
    """Subscribe a vehicle (through v2, the Management API V3 or auto-subscribe); a new subscription gets its
    FIRST_DELIVERY queued [ev]. Returns the subscription and whether it is new."""
    subscription, created = WebhookSubscription.objects.get_or_create(
        webhook=webhook,
        vehicle=vehicle,
        defaults={"user_id": user_id, "created_at": clock.now(), "updated_at": clock.now()},
    )
    if created:
        queue_first_delivery(webhook, vehicle, user_id=subscription.user_id_for_events)
    return subscription, created


def set_enabled(webhook: Webhook, enabled: bool) -> None:
    """Enable or disable a webhook; re-enabling it sends every subscription a FIRST_DELIVERY [deliv]."""
    was_enabled = webhook.is_enabled
    webhook.is_enabled = enabled
    webhook.save(update_fields=["is_enabled"])
    if enabled and not was_enabled:
        for subscription in webhook.subscriptions.select_related("vehicle").order_by("vehicle_id"):
            queue_first_delivery(webhook, subscription.vehicle, user_id=subscription.user_id_for_events)


def signal_bodies(vehicle: SimulatedVehicle, now: datetime) -> dict[str, Any]:
    """Every signal's body for the vehicle's state at ``now`` (None where it has none), to see what a change
    changed."""
    state = live_state(vehicle, reading_time(vehicle, now))
    return {signal.code: signal.body(vehicle, state) for signal in SIGNALS}


def has_triggered_subscriptions(vehicle: SimulatedVehicle) -> bool:
    """Whether any webhook the vehicle is subscribed to sends events by itself on a change (has triggers)."""
    return (
        WebhookSubscription.objects.filter(vehicle=vehicle, webhook__is_enabled=True)
        .exclude(webhook__triggers=[])
        .exists()
    )


def signals_changed(vehicle: SimulatedVehicle, codes: Iterable[str]) -> list[PendingDelivery]:
    """A command changed these signals: queue a VEHICLE_STATE (trigger SIGNAL_UPDATED) to every subscribed,
    enabled v4 webhook that has one of them among its triggers, sent by the next ``deliver_due``."""
    changed = set(codes)
    queued = []
    subscriptions = WebhookSubscription.objects.filter(vehicle=vehicle).select_related("webhook__application")
    for subscription in subscriptions.order_by("id"):
        webhook = subscription.webhook
        fired = [code for code in webhook.triggers if code in changed]
        if not fired:
            continue
        pending = _queue_state(webhook, vehicle, user_id=subscription.user_id_for_events, triggers=fired)
        if pending is not None:
            queued.append(pending)
    return queued


_due_lock = threading.Lock()


def deliver_due(now: datetime | None = None, *, application: Application | None = None) -> list[Delivery]:
    """Send every pending delivery whose time has come (on the simulator's clock), oldest first."""
    with _due_lock:
        moment = now or clock.now()
        deliveries = []
        due = PendingDelivery.objects.filter(due_at__lte=moment).select_related("webhook__application")
        if application is not None:
            due = due.filter(webhook__application=application)
        for pending in list(due):
            claimed, _ = PendingDelivery.objects.filter(pk=pending.pk).delete()
            if not claimed:
                continue
            deliveries.append(
                _attempt(
                    pending.webhook,
                    json.loads(pending.payload),
                    vehicle_id=pending.vehicle_id,
                    attempts_before=pending.attempts,
                )
            )
        return deliveries


def run_redelivery(stop: threading.Event, interval: float | None = None) -> None:
    """Deliver due events until ``stop`` is set (the standalone simulator's background thread)."""
    interval = interval or min(0.5, RETRY_DELAYS[0] * time_scale() / 5)
    while not stop.wait(interval):
        try:
            deliver_due()
        except Exception:  # keep the thread alive: the next round tries again
            logger.exception("Delivering due webhook events failed")
        finally:
            close_old_connections()
