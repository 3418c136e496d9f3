"""Webhooks: verifying and storing deliveries, turning events into vehicle data, and vehicle subscriptions.

A delivery is checked in this order, and nothing is stored or parsed before its signature verifies: known
endpoint (404), ``SC-Signature`` over the raw body with one of the endpoint's management tokens (401), strict
UTF-8 JSON of a known shape whose stored strings every database accepts (400). The VERIFY handshake is answered
at once; every other event is stored once (Smartcar delivers at least once) and queued for ``process_event``.

Storing and queueing are one step (``receive``): a delivery answered 2xx is never left unprocessed. A broker
that is down does not fail the delivery (the row is durable; the failure is logged), a redelivery of an event
that is still unprocessed queues it again, and ``requeue_stale_pending_events`` (a beat task) queues whatever is
still pending after ``WEBHOOK_PENDING_REQUEUE_AFTER``, e.g. tasks lost with a broker restart, and events whose
processing failed (a database that was briefly down) until they have had ``WEBHOOK_MAX_ATTEMPTS``. Queueing
twice is harmless: ``process_event`` locks the row and processes it once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from .. import client, signals
from ..client.redaction import redact_text
from ..client.results import parse_datetime
from ..conf import management_tokens, smartcar_settings
from ..db import select_for_update
from ..models import Vehicle, WebhookEvent
from ..text import column_length, is_storable, storable
from . import polling, queueing
from .signals import (
    PRIMARY,
    SIGNALS,
    UNREADABLE,
    SignalReadout,
    apply_readout,
    merge_points,
    read_signals,
    record_signals,
    signal_code,
)
from .tokens import mark_reauth_required, needs_reauthentication
from .vehicles import (
    DATA_GROUPS_BY_NAME,
    DATA_GROUPS_BY_PATH,
    DataPoint,
    connected_services_account_key,
    is_not_capable_error,
    record_vehicle_problems,
    vehicle_error_key,
)

logger = logging.getLogger(__name__)

# Headers kept with an event: enough to audit a delivery, nothing a proxy might add that carries credentials.
KEPT_HEADERS = ("Content-Type", "Content-Length", "SC-Signature", "User-Agent")
EVENT_ID_MAX_LENGTH = column_length(WebhookEvent, "event_id")
EVENT_TYPE_MAX_LENGTH = column_length(WebhookEvent, "event_type")
LAST_ERROR_MAX_LENGTH = 2000
VEHICLE_ID_MAX_LENGTH = column_length(Vehicle, "smartcar_id")


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
    """The management tokens that may sign deliveries to ``url_id``, newest first (None: unknown endpoint).

    Ids are compared as UTF-8 bytes: ``hmac.compare_digest`` raises TypeError for non-ASCII ``str``, and any
    URL id (a guess from anyone on the internet) must get a 404, not a 500.
    """
    candidate = _utf8(url_id)
    for known_id, tokens in (smartcar_settings.WEBHOOK_ENDPOINTS or {}).items():
        if hmac.compare_digest(_utf8(str(known_id)), candidate):
            return [tokens] if isinstance(tokens, str) else list(tokens)
    default_id = smartcar_settings.WEBHOOK_URL_ID
    if default_id and hmac.compare_digest(_utf8(str(default_id)), candidate):
        return management_tokens()
    return None


def _utf8(text: str) -> bytes:
    # "surrogatepass": a lone surrogate cannot make the comparison raise; it simply matches nothing.
    return text.encode("utf-8", "surrogatepass")


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

    text, payload = _decode(body)
    event_type, version = _shape(payload)

    if event_type == "VERIFY":
        container = payload.get("data") if version == "4.0" else payload.get("payload")
        challenge = container.get("challenge") if isinstance(container, dict) else None
        if not isinstance(challenge, str) or not challenge:
            raise WebhookRejected(400, "VERIFY event without a challenge.")
        _check_text(challenge, "challenge", max_length=None)
        return Receipt({"challenge": client.hash_challenge(tokens[verified_with], challenge)})

    event_id = payload.get("eventId") or f"sha256:{hashlib.sha256(body).hexdigest()}"
    if not isinstance(event_id, str):
        raise WebhookRejected(400, "Invalid eventId: not a string.")
    _check_text(event_id, "eventId", max_length=EVENT_ID_MAX_LENGTH)
    event = WebhookEvent(
        event_id=event_id,
        event_type=event_type,
        endpoint=url_id,
        version=version,
        body=text,
        headers={
            name: headers[name] for name in KEPT_HEADERS if name in headers and is_storable(headers[name])
        },
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
        existing = WebhookEvent.objects.get(event_id=event_id)
        if existing.processed_at is None:
            # Smartcar redelivers what it believes failed: the first queueing may have been lost.
            schedule_processing(existing.pk)
        return Receipt({"status": "duplicate"}, existing, created=False)
    transaction.on_commit(lambda: signals.webhook_received.send(sender=WebhookEvent, event=event))
    schedule_processing(event.pk)
    return Receipt({"status": "received"}, event, created=True)


def _decode(body: bytes) -> tuple[str, Any]:
    """The body as text and as JSON. Strictly UTF-8 (the body is stored as text), nesting bounded by Python."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected(400, "The body is not UTF-8.") from None
    try:
        return text, json.loads(text)
    except ValueError:
        raise WebhookRejected(400, "The body is not JSON.") from None
    except RecursionError:
        raise WebhookRejected(400, "The body's JSON is nested too deeply.") from None


def _check_text(text: str, what: str, *, max_length: int | None) -> None:
    """Refuse a string that is stored, looked up or hashed but that a database or an encoder would choke on."""
    if not is_storable(text):
        raise WebhookRejected(400, f"Invalid {what}: it contains NUL or an unpaired surrogate.")
    if max_length is not None and len(text) > max_length:
        raise WebhookRejected(400, f"Invalid {what}: longer than {max_length} characters.")


def schedule_processing(event_pk: int) -> None:
    """Queue ``process_event`` for a stored event once the current transaction commits (at once in autocommit)."""
    transaction.on_commit(partial(publish_processing, event_pk))


def publish_processing(event_pk: int) -> bool:
    """Send the processing task to the broker now. A broker failure is logged, never raised: the event is stored,
    and the pending-event sweep (or Smartcar's redelivery) queues it again."""
    from ..tasks import process_webhook_event  # tasks import this module

    return queueing.send_now(
        partial(process_webhook_event.delay, event_pk),
        what=f"webhook event pk={event_pk} (the pending-event sweep queues it again)",
    )


def stale_pending_events(now: datetime | None = None) -> QuerySet[WebhookEvent]:
    """Events never processed nor failed, received longer than ``WEBHOOK_PENDING_REQUEUE_AFTER`` ago.

    Younger ones are most likely still waiting in the broker. Failed ones carry their error and are retried by
    the sweep a bounded number of times (``events_to_requeue``), by a redelivery, or by
    ``smartcar_process_webhooks --failed``.
    """
    stale_before = (now or timezone.now()) - smartcar_settings.WEBHOOK_PENDING_REQUEUE_AFTER
    return WebhookEvent.objects.filter(
        processed_at__isnull=True, last_error="", received_at__lte=stale_before
    ).order_by("received_at")


def events_to_requeue(now: datetime | None = None) -> QuerySet[WebhookEvent]:
    """What the sweep queues again: stale pending events, and failed ones with attempts left.

    A failure is retried at the sweep's pace, at most ``WEBHOOK_MAX_ATTEMPTS`` attempts in all: a database that
    was down a moment loses nothing, and an event that can never be applied stops being retried (it stays
    failed, with its error, for ``smartcar_process_webhooks --failed`` once the cause is fixed).
    """
    stale_before = (now or timezone.now()) - smartcar_settings.WEBHOOK_PENDING_REQUEUE_AFTER
    failed_with_attempts_left = Q(attempts__lt=int(smartcar_settings.WEBHOOK_MAX_ATTEMPTS)) & ~Q(
        last_error=""
    )
    return WebhookEvent.objects.filter(
        Q(last_error="") | failed_with_attempts_left, processed_at__isnull=True, received_at__lte=stale_before
    ).order_by("received_at")


def requeue_stale_pending_events(now: datetime | None = None) -> int:
    """Queue processing again for every event ``events_to_requeue`` names; returns how many.

    Stops at the first broker failure: the next sweep tries again.
    """
    queued = 0
    chunk_size = int(smartcar_settings.FANOUT_CHUNK_SIZE)
    for event_pk in events_to_requeue(now).values_list("pk", flat=True).iterator(chunk_size=chunk_size):
        if not publish_processing(event_pk):
            break
        queued += 1
    if queued:
        logger.warning("Queued %s stale pending webhook event(s) again", queued)
    return queued


def unprocessed_events(
    *, failed_only: bool = False, stale_pending_only: bool = False, event_ids: Iterable[str] = ()
) -> QuerySet[WebhookEvent]:
    """What ``smartcar_process_webhooks`` works through: unprocessed events, oldest first, optionally narrowed."""
    events = WebhookEvent.objects.filter(processed_at__isnull=True).order_by("received_at")
    if failed_only:
        events = events.exclude(last_error="")
    if stale_pending_only:
        events = events.filter(pk__in=stale_pending_events().values("pk"))
    event_ids = list(event_ids)
    if event_ids:
        events = events.filter(event_id__in=event_ids)
    return events


def _shape(payload: Any) -> tuple[str, str]:
    """``(event_type, version)`` of a v4 (``eventType``/``data``) or v2 (``eventName``/``payload``) event."""
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "The body is not a JSON object.")
    if isinstance(payload.get("eventType"), str) and isinstance(payload.get("data"), dict):
        event_type = _event_type(payload["eventType"], "eventType")
        vehicle_id = _v4_vehicle_id(payload)
        if event_type in ("VEHICLE_STATE", "VEHICLE_ERROR") and not vehicle_id:
            raise WebhookRejected(400, f"{event_type} event without data.vehicle.id.")
        if vehicle_id:  # looked up while processing, whatever the event type
            _check_text(vehicle_id, "data.vehicle.id", max_length=VEHICLE_ID_MAX_LENGTH)
        return event_type, "4.0"
    if isinstance(payload.get("eventName"), str) and isinstance(payload.get("payload"), dict):
        event_name = _event_type(payload["eventName"], "eventName")
        if event_name == "VERIFY":
            return "VERIFY", "2.0"
        vehicles = payload["payload"].get("vehicles")
        if not isinstance(vehicles, list) or not all(
            isinstance(item, dict) and isinstance(item.get("vehicleId"), str) for item in vehicles
        ):
            raise WebhookRejected(400, "v2 event without payload.vehicles[].vehicleId.")
        for item in vehicles:
            _check_text(item["vehicleId"], "payload.vehicles[].vehicleId", max_length=VEHICLE_ID_MAX_LENGTH)
        return event_name, "2.0"
    raise WebhookRejected(
        400, "Unknown event shape: expected eventType and data (v4) or eventName and payload (v2)."
    )


def _event_type(value: str, what: str) -> str:
    """The upper-cased event type, checked after upper-casing (``"ß".upper()`` is ``"SS"``: it can grow)."""
    _check_text(value, what, max_length=None)
    event_type = value.upper()
    if not event_type or len(event_type) > EVENT_TYPE_MAX_LENGTH:
        raise WebhookRejected(
            400, f"Invalid {what}: empty or longer than {EVENT_TYPE_MAX_LENGTH} characters."
        )
    return event_type


def _v4_vehicle_id(payload: dict[str, Any]) -> str | None:
    """``data.vehicle.id`` (every capture), else the top-level ``vehicleId`` Smartcar's docs show [ev]."""
    vehicle = payload["data"].get("vehicle")
    vehicle_id = vehicle.get("id") if isinstance(vehicle, dict) else None
    if not (isinstance(vehicle_id, str) and vehicle_id):
        vehicle_id = payload.get("vehicleId")
    return vehicle_id if isinstance(vehicle_id, str) and vehicle_id else None


# --- Processing -----------------------------------------------------------------------------------------------


def process_event(event_pk: int) -> WebhookEvent:
    """Apply a stored event to the vehicles it concerns, once. Errors are recorded on the event and raised.

    The event's work runs in a savepoint: when it fails (even with a database error that breaks the
    transaction, e.g. a value PostgreSQL refuses), the work is rolled back and the failure is recorded after
    the rollback, still under the row lock, with its text made storable. A failed event therefore always shows
    ``attempts >= 1`` and a ``last_error``. Signals that cannot be read are skipped and noted in ``last_error``
    of the processed event; the event's other signals are stored.
    """
    with transaction.atomic():
        event = select_for_update(WebhookEvent.objects.filter(pk=event_pk)).get()
        if event.processed_at is not None:
            return event
        event.attempts += 1
        try:
            with transaction.atomic():
                outcome = _apply(json.loads(event.body), received_at=event.received_at)
        except Exception as exc:
            failure: Exception | None = exc
            event.last_error = storable(redact_text(f"{type(exc).__name__}: {exc}"))[:LAST_ERROR_MAX_LENGTH]
            event.save(update_fields=["attempts", "last_error"])
            logger.exception("Processing webhook event pk=%s failed", event.pk)
        else:
            failure = None
            event.processed_at = timezone.now()
            event.last_error = storable("; ".join(outcome.skipped))[:LAST_ERROR_MAX_LENGTH]
            event.save(update_fields=["attempts", "last_error", "processed_at"])
            updates, triggers, recorded = outcome.updates, outcome.triggers, outcome.signals
            transaction.on_commit(
                lambda: signals.webhook_processed.send(
                    sender=WebhookEvent, event=event, updates=updates, triggers=triggers, signals=recorded
                )
            )
    if failure is not None:
        raise failure
    return event


@dataclass
class Outcome:
    """What processing an event did: the groups updated per vehicle, the parts skipped as unreadable, the
    signal codes stored per vehicle (``VehicleSignal`` rows that changed), and what triggered the event
    (``[(type, signal code or None)]``, whichever shape Smartcar used)."""

    updates: dict[Vehicle, list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    signals: dict[Vehicle, list[str]] = field(default_factory=dict)
    triggers: list[tuple[str, str | None]] = field(default_factory=list)


def _apply(payload: dict[str, Any], *, received_at: datetime) -> Outcome:
    outcome = Outcome()
    if payload.get("eventType"):
        outcome.triggers = read_triggers(payload)
        vehicle = _routed_vehicle(payload, outcome)
        if payload["eventType"].upper() == "VEHICLE_ERROR":
            _handle_errors(vehicle, _list(payload["data"].get("errors"), "data.errors"), outcome)
            return outcome
        reported = _list(payload["data"].get("signals"), "data.signals")
        readout = read_signals(reported, received_at=received_at)
        outcome.skipped.extend(readout.skipped)
        if vehicle is None:
            return outcome
        # Every signal is kept as sent (VehicleSignal, newer wins per signal), mapped to a typed field or not.
        recorded = record_signals(vehicle, reported, received_at=received_at)
        outcome.skipped.extend(recorded.skipped)
        if recorded:
            outcome.signals[vehicle] = list(recorded)
        _apply_readout(vehicle, readout, outcome)
        return outcome
    for item in payload["payload"].get("vehicles") or []:
        points, errors, missing = [], [], set()
        for index, answer in enumerate(_list(item.get("data"), "payload.vehicles[].data")):
            try:
                if answer.get("code") == 200 and isinstance(answer.get("body"), dict):
                    age = parse_datetime((answer.get("headers") or {}).get("sc-data-age"))
                    points.append(DataPoint(str(answer.get("path", "")), answer["body"], age or received_at))
                elif isinstance(answer.get("body"), dict):
                    group = DATA_GROUPS_BY_PATH.get(str(answer.get("path", "")))
                    if answer["body"].get("type") == "PERMISSION" and group is not None:
                        # One path out of scope: that permission is missing, not the whole account's.
                        missing.add(group.permission)
                    else:
                        errors.append(answer["body"])
            except UNREADABLE as exc:
                outcome.skipped.append(f"answer {index} skipped: {type(exc).__name__}")
        vehicle = Vehicle.objects.select_related("account").filter(smartcar_id=item["vehicleId"]).first()
        _handle_errors(vehicle, errors, outcome)
        if vehicle is None:
            continue  # a vehicle this site does not (or no longer) know
        _apply_readout(
            vehicle, SignalReadout(points=merge_points(points), missing_permissions=missing), outcome
        )
    return outcome


def _routed_vehicle(payload: dict[str, Any], outcome: Outcome) -> Vehicle | None:
    """The vehicle a v4 event is for: by ``data.vehicle.id``, and, when the event names a user (``data.user.id``,
    in every v4 capture), only if that user is the one whose account holds the vehicle.

    A vehicle id alone is not enough: the same car connected by another Smartcar user (a car sold, a second
    driver on another site's account) must not write into this account's vehicle. A mismatch is skipped and
    noted on the event (ids left out: the log and the admin show the vehicle's pk only).
    """
    vehicle = Vehicle.objects.select_related("account").filter(smartcar_id=_v4_vehicle_id(payload)).first()
    if vehicle is None:
        return None  # a vehicle this site does not (or no longer) know
    user = payload["data"].get("user")
    if user is None:
        return vehicle
    user_id = user.get("id") if isinstance(user, dict) else user
    if user_id is None:
        return vehicle
    if not isinstance(user_id, str) or not hmac.compare_digest(
        _utf8(user_id), _utf8(vehicle.account.smartcar_user_id)
    ):
        note = f"event skipped: data.user.id is not the user of vehicle pk={vehicle.pk}'s account"
        outcome.skipped.append(note)
        logger.warning("Webhook %s (account pk=%s)", note, vehicle.account_id)
        return None
    return vehicle


def _list(value: Any, what: str) -> list[Any]:
    """A list the event must hold (absent: empty); anything else makes the whole event unreadable."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{what} is not a list")
    return value


def read_triggers(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    """What triggered a v4 event, as ``(type, signal code or None)``, from every documented shape.

    (a) 2026 captures: top-level ``triggers: [{"type": "SIGNAL_UPDATED", "signal": {"name", "code", "group"}}]``
    (and ``{"type": "FIRST_DELIVERY"}``); (b) 2025-09 captures: ``"signal": "Odometer.TraveledDistance"``;
    (c) the docs: ``data.triggers: [{"code", "name", "group"}]`` or ``[{"code": "FIRST_DELIVERY"}]``.
    Unreadable entries are left out: triggers only inform.
    """
    found: list[tuple[str, str | None]] = []
    top = payload.get("triggers")
    for trigger in top if isinstance(top, list) else []:
        if not isinstance(trigger, dict) or not isinstance(trigger.get("type"), str):
            continue
        found.append((trigger["type"].upper(), signal_code(trigger.get("signal"))))
    data = payload.get("data")
    documented = data.get("triggers") if isinstance(data, dict) else None
    for trigger in documented if isinstance(documented, list) else []:
        if not isinstance(trigger, dict) or not isinstance(trigger.get("code"), str):
            continue
        if trigger["code"].upper() == "FIRST_DELIVERY":
            found.append(("FIRST_DELIVERY", None))
        else:
            found.append(("SIGNAL_UPDATED", signal_code(trigger)))
    return found


def _apply_readout(vehicle: Vehicle, readout: SignalReadout, outcome: Outcome) -> None:
    """Per-signal problems and typed data of one event on its vehicle; a state error queues a retry."""
    applied = apply_readout(vehicle, readout)
    if readout.points:
        # Webhooks first: data that came unbilled is fresh, polling waits (``polling.after_webhook``).
        polling.after_webhook(vehicle)
    if readout.errors:
        _retry_later(vehicle)
    if applied.updated is not None:
        outcome.updates[vehicle] = applied.updated
    elif applied.problems_changed:
        outcome.updates.setdefault(vehicle, [])


def _handle_errors(vehicle: Vehicle | None, errors: Iterable[Any], outcome: Outcome) -> None:
    """VEHICLE_ERROR entries (and v2 error bodies): what each means for the vehicle or its account.

    * ``state`` RESOLVED forgets what the same error taught (below).
    * PERMISSION scoped to ``signals``: those permissions are missing on this vehicle; the account stays usable.
      PERMISSION with no signals (the whole connection), AUTHENTICATION, or any other REAUTHENTICATE
      resolution: the account needs re-authenticating.
    * COMPATIBILITY VEHICLE_NOT_CAPABLE scoped to signals: those data groups are not capable.
    * VEHICLE_STATE (asleep, unreachable): recorded on the vehicle, and a refresh is queued to retry later.
    """
    for index, error in enumerate(errors):
        if not isinstance(error, dict):
            outcome.skipped.append(f"error {index} skipped: not an object")
            continue
        error_type = str(error.get("type") or "").upper()
        code = error.get("code") if isinstance(error.get("code"), str) else None
        resolved = str(error.get("state") or "").upper() == "RESOLVED"
        raw_signals = error.get("signals")
        codes = [signal_code(item) for item in raw_signals] if isinstance(raw_signals, list) else []
        known = [SIGNALS[code_] for code_ in codes if code_ in SIGNALS]
        permissions = {DATA_GROUPS_BY_NAME[group].permission for group, _ in known}
        groups = {SIGNALS[code_][0] for code_ in codes if code_ in SIGNALS and code_ in PRIMARY}
        if vehicle is None:
            continue
        changed = False
        if error_type == "VEHICLE_STATE":
            key = vehicle_error_key(error_type, code)
            if resolved:
                changed = record_vehicle_problems(vehicle, resolved_errors=[key])
            else:
                changed = record_vehicle_problems(vehicle, errors=[key])
                _retry_later(vehicle)
        elif is_not_capable_error(error_type, code) and groups:
            if resolved:
                changed = record_vehicle_problems(vehicle, capable=groups)
            else:
                changed = record_vehicle_problems(vehicle, not_capable=groups)
        elif error_type == "PERMISSION" and isinstance(raw_signals, list) and raw_signals:
            # Scoped to signals: only those permissions are missing (none this app uses: nothing to do).
            if resolved:
                changed = record_vehicle_problems(vehicle, granted_permissions=permissions)
            else:
                changed = record_vehicle_problems(vehicle, missing_permissions=permissions)
        elif error_type == "CONNECTED_SERVICES_ACCOUNT" and not needs_reauthentication(
            error_type, error.get("resolution")
        ):
            # For the owner to fix at their car maker (not a reconnect): recorded on the vehicle until RESOLVED.
            key = connected_services_account_key(code)
            if resolved:
                changed = record_vehicle_problems(vehicle, resolved_errors=[key])
            else:
                changed = record_vehicle_problems(vehicle, errors=[key])
        elif (
            not resolved
            and needs_reauthentication(error_type, error.get("resolution"))
            and vehicle.account.is_usable
        ):
            # The description is Smartcar's (signed) text, stored as the account's last error: storable.
            description = storable(str(error.get("description") or "Smartcar asked to re-authenticate."))
            mark_reauth_required(vehicle.account, description)
        if changed:
            outcome.updates.setdefault(vehicle, [])


def _retry_later(vehicle: Vehicle) -> None:
    """Queue one refresh of a vehicle reported asleep or unreachable, ``WEBHOOK_VEHICLE_STATE_RETRY_AFTER`` later."""
    delay = smartcar_settings.WEBHOOK_VEHICLE_STATE_RETRY_AFTER
    if delay is None or not vehicle.is_connected:
        return
    from ..tasks import refresh_vehicle_data  # tasks import this module

    transaction.on_commit(
        partial(
            queueing.send_now,
            partial(refresh_vehicle_data.apply_async, (vehicle.pk,), countdown=delay.total_seconds()),
            what="retry of a vehicle reported asleep or unreachable",
        )
    )
