"""Vehicle sync and vehicle data: what Smartcar says about an account's cars, and the rule that newer data wins."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone

from .. import client, signals
from ..client.transport import backoff_delay
from ..conf import smartcar_settings
from ..db import select_for_update
from ..exceptions import AccountUnavailable, BudgetExhausted, VehicleDisconnected
from ..models import USABLE_STATUSES, SmartcarAccount, Vehicle
from ..text import column_length, is_storable
from . import budget, pacing, polling, queueing, subscriptions
from .clients import AccountApi, VehicleReading, account_api
from .tokens import mark_reauth_required, needs_reauthentication

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VehicleSnapshot:
    """What Smartcar says identifies one vehicle of an account."""

    smartcar_id: str
    make: str = ""
    model: str = ""
    year: int | None = None
    vin: str = ""
    permissions: tuple[str, ...] = ()
    # Billed requests it took to identify the vehicle (v2: its attributes and VIN, one batch item each), counted
    # in its monthly budget once its row exists.
    billed: int = 0


@dataclass
class SyncResult:
    created: list[Vehicle] = field(default_factory=list)
    # New to this account: created, moved from another account, or back after a disconnect.
    connected: list[Vehicle] = field(default_factory=list)
    updated: list[Vehicle] = field(default_factory=list)
    disconnected: list[Vehicle] = field(default_factory=list)


def sync_vehicles(account: SmartcarAccount) -> SyncResult:
    """Bring the account's vehicle rows in line with Smartcar: new ones created, vanished ones disconnected."""
    api = account_api(account)
    snapshots = fetch_vehicles(api)
    with transaction.atomic():
        result = apply_vehicle_list(account, snapshots)
    subscriptions.subscribe_vehicles(result.connected, api)
    return result


def fetch_vehicles(api: AccountApi) -> list[VehicleSnapshot]:
    """Every vehicle the connection reaches, with make, model, year, VIN and permissions (as far as granted)."""
    return api.list_vehicles()


def apply_vehicle_list(account: SmartcarAccount, snapshots: Iterable[VehicleSnapshot]) -> SyncResult:
    """Write a fetched vehicle list; run inside the caller's transaction. Signals go out on commit."""
    result = SyncResult()
    now = timezone.now()
    snapshots = list(snapshots)
    seen = {s.smartcar_id for s in snapshots}
    existing = {v.smartcar_id: v for v in select_for_update(Vehicle.objects.filter(smartcar_id__in=seen))}
    for snapshot in snapshots:
        vehicle = existing.get(snapshot.smartcar_id)
        is_new_here = vehicle is None or not vehicle.is_connected or vehicle.account_id != account.pk
        if vehicle is None:
            vehicle = Vehicle(smartcar_id=snapshot.smartcar_id, account=account, connected_at=now)
            result.created.append(vehicle)
        else:
            result.updated.append(vehicle)
            if is_new_here:
                vehicle.connected_at = now
        if is_new_here or sorted(vehicle.permissions or []) != sorted(snapshot.permissions):
            # A new connection or new permissions may bring what the car could not give before: ask again.
            vehicle.not_capable = {}
        # Smartcar's permission list, just read, is the truth now (a re-authentication grants them again).
        vehicle.missing_permissions = {}
        vehicle.account = account
        vehicle.make, vehicle.model, vehicle.year = snapshot.make, snapshot.model, snapshot.year
        vehicle.vin = snapshot.vin or vehicle.vin
        vehicle.permissions = list(snapshot.permissions)
        vehicle.is_connected = True
        vehicle.disconnected_at = None
        vehicle.save()
        budget.record(vehicle, snapshot.billed, budget.SCHEDULED, now=now)
        if is_new_here:
            result.connected.append(vehicle)
            _on_commit_send(signals.vehicle_connected, vehicle, account)
    if result.connected and smartcar_settings.REFRESH_ON_CONNECT:
        _queue_first_refreshes([vehicle.pk for vehicle in result.connected])
    vanished = account.vehicles.filter(is_connected=True).exclude(smartcar_id__in=seen)
    for vehicle in vanished:
        mark_disconnected(vehicle)
        result.disconnected.append(vehicle)
    return result


def _queue_first_refreshes(vehicle_ids: list[int]) -> None:
    """Queue one background read of each newly connected vehicle's data, once the caller's rows are committed.

    A broker that is down does not fail the connection: the first failure is logged and the rest are not tried
    (each attempt would wait for the broker again); Refresh, or beat, reads the data later.
    """
    from .. import tasks  # tasks imports the services: imported here, when first needed

    def send_all() -> None:
        for index, vehicle_id in enumerate(vehicle_ids):
            if not queueing.send_now(
                partial(tasks.refresh_vehicle_data.delay, vehicle_id), what="first data refresh"
            ):
                logger.warning(
                    "%s newly connected vehicle(s) not read in the background", len(vehicle_ids) - index
                )
                return

    transaction.on_commit(send_all)


def mark_disconnected(vehicle: Vehicle) -> None:
    vehicle.is_connected = False
    vehicle.disconnected_at = timezone.now()
    vehicle.save(update_fields=["is_connected", "disconnected_at", "updated_at"])
    _on_commit_send(signals.vehicle_disconnected, vehicle, vehicle.account)


def _on_commit_send(signal: Signal, vehicle: Vehicle, account: SmartcarAccount) -> None:
    transaction.on_commit(lambda: signal.send(sender=Vehicle, vehicle=vehicle, account=account))


# --- Vehicle data ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataGroup:
    """One Smartcar data endpoint and the Vehicle fields it fills.

    ``name`` is the group's key in the API's vehicle JSON; refreshes, signals, admin messages and webhooks
    report these names as ``updated``. Bodies are in Smartcar's v2 shape (percentages as 0-1 fractions).
    """

    name: str
    path: str
    permission: str
    age_field: str | None  # None: static data (VIN), always taken
    extract: Callable[[dict[str, Any]], dict[str, Any]]


# Stored (and served) as percents, 0-100; Smartcar's v2 bodies carry them as fractions, 0-1.
PERCENT_FIELDS = frozenset({"fuel_percent_remaining", "battery_percent_remaining", "oil_life_remaining"})


def _percent(fraction: Any) -> Any:
    """A v2 fraction (0.772) as the stored percent (77.2); anything but a number passes on, to be refused.

    Rounded, so 0.57 is stored as 57.0 and not 56.99999999999999.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
        return fraction  # the field's validator says what is wrong with it
    try:
        return round(float(fraction) * 100, 6)
    except OverflowError:
        return fraction


def _pick(**mapping: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Map Smartcar body keys to model fields, taking only the keys present (partial bodies update partially).

    The one place where fractions become percents (``PERCENT_FIELDS``): polling, webhooks and commands all
    store through ``apply_vehicle_data``.
    """

    def extract(body: dict[str, Any]) -> dict[str, Any]:
        return {
            model_field: _percent(body[key]) if model_field in PERCENT_FIELDS else body[key]
            for model_field, key in mapping.items()
            if key in body
        }

    return extract


def _lock(body: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "isLocked" in body:
        values["is_locked"] = body["isLocked"]
    details = {key: value for key, value in body.items() if key != "isLocked"}
    if details:
        values["lock_status"] = details
    return values


DATA_GROUPS: tuple[DataGroup, ...] = (
    DataGroup("vin", "/vin", "read_vin", None, _pick(vin="vin")),
    DataGroup("odometer", "/odometer", "read_odometer", "odometer_age", _pick(odometer_km="distance")),
    DataGroup(
        "location",
        "/location",
        "read_location",
        "location_age",
        _pick(latitude="latitude", longitude="longitude"),
    ),
    DataGroup(
        "fuel",
        "/fuel",
        "read_fuel",
        "fuel_age",
        _pick(
            fuel_percent_remaining="percentRemaining",
            fuel_range_km="range",
            fuel_amount_liters="amountRemaining",
        ),
    ),
    DataGroup(
        "battery",
        "/battery",
        "read_battery",
        "battery_age",
        _pick(battery_percent_remaining="percentRemaining", battery_range_km="range"),
    ),
    DataGroup(
        "charge",
        "/charge",
        "read_charge",
        "charge_age",
        _pick(charge_state="state", is_plugged_in="isPluggedIn"),
    ),
    DataGroup("security", "/security", "read_security", "lock_age", _lock),
    DataGroup(
        "engine_oil", "/engine/oil", "read_engine_oil", "oil_age", _pick(oil_life_remaining="lifeRemaining")
    ),
    DataGroup(
        "tire_pressure",
        "/tires/pressure",
        "read_tires",
        "tires_age",
        lambda body: {"tire_pressure_kpa": body},
    ),
)
DATA_GROUPS_BY_PATH = {group.path: group for group in DATA_GROUPS}
DATA_GROUPS_BY_NAME = {group.name: group for group in DATA_GROUPS}


# --- What a stored value may be ---------------------------------------------------------------------------------
# Every value, from polling, webhooks or commands, is checked here before it is stored: a signed webhook or a
# confused upstream can still send NaN, 1e999, a latitude of 1000 or a battery at -5000 %, and one such value
# would make the vehicle API fail or show nonsense. A validator returns the value to store or raises
# ``InvalidValue``.


class InvalidValue(ValueError):
    """A value outside what the field can physically hold."""


def _number(low: float, high: float) -> Callable[[Any], float]:
    def validate(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidValue("not a number")
        try:
            number = float(value)
        except OverflowError:
            raise InvalidValue("out of range") from None
        if not math.isfinite(number) or not low <= number <= high:
            raise InvalidValue(f"outside [{low}, {high}]")
        return number

    return validate


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue("not a boolean")
    return value


def _text(max_length: int) -> Callable[[Any], str]:
    def validate(value: Any) -> str:
        if not isinstance(value, str) or len(value) > max_length or not is_storable(value):
            raise InvalidValue(f"not a storable string of at most {max_length} characters")
        return value

    return validate


JSON_MAX_DEPTH = 8


def _json_object(value: Any) -> dict[str, Any]:
    """A small JSON object (lock details, tire pressures) that every database stores and the API renders."""

    def check(item: Any, depth: int) -> None:
        if depth > JSON_MAX_DEPTH:
            raise InvalidValue("nested too deeply")
        if isinstance(item, float) and not math.isfinite(item):
            raise InvalidValue("NaN or infinite number")
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) > 2**53:
            raise InvalidValue("integer out of range")
        if isinstance(item, str) and not is_storable(item):
            raise InvalidValue("NUL or unpaired surrogate")
        if isinstance(item, dict):
            for key, child in item.items():
                check(key, depth + 1)
                check(child, depth + 1)
        elif isinstance(item, list):
            for child in item:
                check(child, depth + 1)

    if not isinstance(value, dict):
        raise InvalidValue("not an object")
    check(value, 0)
    return value


# Public: services.signals stores every signal's body by the same rules.
checked_json_object = _json_object


MAX_DISTANCE_KM = 10_000_000.0  # an odometer (or a range) beyond 10 million km is a unit or encoding error
FIELD_VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "vin": _text(column_length(Vehicle, "vin")),
    "odometer_km": _number(0, MAX_DISTANCE_KM),
    "latitude": _number(-90, 90),
    "longitude": _number(-180, 180),
    "fuel_percent_remaining": _number(0, 100),
    "fuel_range_km": _number(0, MAX_DISTANCE_KM),
    "fuel_amount_liters": _number(0, 100_000),
    "battery_percent_remaining": _number(0, 100),
    "battery_range_km": _number(0, MAX_DISTANCE_KM),
    "charge_state": _text(column_length(Vehicle, "charge_state")),
    "is_plugged_in": _boolean,
    "is_locked": _boolean,
    "lock_status": _json_object,
    "oil_life_remaining": _number(0, 100),
    "tire_pressure_kpa": _json_object,
}


def validated_values(group: DataGroup, body: Any) -> dict[str, Any]:
    """The group's model values from a body, each checked against what it can physically be.

    A data group is stored whole or not at all (a latitude without its longitude is no location): any invalid
    value raises ``InvalidValue`` naming the field, never the value (it may be anything a sender chose).
    """
    if not isinstance(body, dict):
        raise InvalidValue(f"{group.name}: the body is not an object")
    try:
        values = group.extract(body)
    except (LookupError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidValue(f"{group.name}: unreadable body ({type(exc).__name__})") from None
    checked = {}
    for model_field, value in values.items():
        try:
            checked[model_field] = FIELD_VALIDATORS[model_field](value)
        except InvalidValue as exc:
            raise InvalidValue(f"{group.name}.{model_field}: {exc}") from None
    return checked


def checked_age(group: DataGroup, age: datetime | None, now: datetime) -> datetime:
    """When the data was reported, refused when it lies in the future beyond ``DATA_AGE_FUTURE_TOLERANCE``.

    Newer data wins, so one age in year 9999 would freeze the group for good; a small tolerance allows for a
    car's clock running a little ahead.
    """
    if age is None:
        return now
    if not isinstance(age, datetime) or timezone.is_naive(age):
        raise InvalidValue(f"{group.name}: the data age is not an aware datetime")
    if age > now + smartcar_settings.DATA_AGE_FUTURE_TOLERANCE:
        raise InvalidValue(f"{group.name}: the data age lies in the future")
    return age


@dataclass(frozen=True)
class DataPoint:
    """A body Smartcar returned for one path, and when the car reported it."""

    path: str
    body: dict[str, Any]
    age: datetime | None


@dataclass
class RefreshResult:
    """What one refresh did: the groups read, those that changed, the paths that failed, what the car cannot give.

    ``errors`` (path -> exception) holds real failures only: a data point Smartcar says the vehicle is not
    capable of is no failure; its group is in ``not_capable`` and is not asked for again for a while.
    """

    updated: list[str] = field(default_factory=list)
    errors: dict[str, client.SmartcarException] = field(default_factory=dict)
    not_capable: list[str] = field(default_factory=list)
    # Every group Smartcar answered with data, newer than what was stored or not.
    read: list[str] = field(default_factory=list)

    @property
    def retry_later(self) -> bool:
        """Whether a failure here is the car's passing state (asleep, unreachable): worth another try later."""
        return any(is_retried_later(exc) for exc in self.errors.values())

    @property
    def failed(self) -> bool:
        """Whether the refresh failed: something failed and nothing at all could be read.

        Data that was read but was not newer than what is stored is no failure. The one rule that the admin, the
        API, ``smartcar_sync`` and the demo apply.
        """
        return bool(self.errors) and not self.read

    def failures(self) -> list[tuple[str, str]]:
        """``(data point, short reason)`` for each failed path, e.g. ``("fuel", "rate limited")``."""
        return [(data_point_name(path), failure_reason(exc)) for path, exc in self.errors.items()]

    @property
    def suggested_user_message(self) -> str:
        """The first message Smartcar suggested showing the owner for a failure here (``suggestedUserMessage``),
        or ``""``; what pages show the owner beside ``describe_failures``."""
        return next(
            (exc.suggested_user_message for exc in self.errors.values() if exc.suggested_user_message), ""
        )

    def describe_failures(self) -> str:
        """The failures in one line for people: ``"fuel: rate limited; location: permission not granted"``."""
        return "; ".join(f"{name}: {reason}" for name, reason in self.failures())


def data_point_name(path: str) -> str:
    group = DATA_GROUPS_BY_PATH.get(path)
    return group.name if group else path


def is_developer_error(error_type: str | None, code: str | None) -> bool:
    """Whether Smartcar refused the request as built wrong: RESOURCE_NOT_FOUND (a path or API version it does
    not have) or a VALIDATION error naming a parameter. A bug to log and fix here; no reconnect helps."""
    return error_type == "RESOURCE_NOT_FOUND" or (error_type == "VALIDATION" and bool(code))


def is_unknown_vehicle(error_type: str | None, code: str | None) -> bool:
    """Whether Smartcar refused the vehicle id itself: a 400 VALIDATION with no code is its answer for a vehicle
    the token does not reach (no longer connected to this account), not a 404. Only reconnecting it helps."""
    return error_type == "VALIDATION" and not code


def log_refused_request(exc: client.SmartcarException, what: str) -> None:
    """Log a vehicle call Smartcar refused as built wrong (an error: a bug) or for an unknown vehicle id."""
    if is_developer_error(exc.type, exc.code):
        logger.error("Smartcar refused %s as a developer error (%s:%s): %s", what, exc.type, exc.code, exc)
    elif is_unknown_vehicle(exc.type, exc.code):
        logger.warning("Smartcar does not know the vehicle of %s under this account any more", what)


def vehicle_error_key(error_type: str, code: str | None) -> str:
    """How an error is remembered in ``Vehicle.vehicle_errors``: ``"TYPE:CODE"`` (``VEHICLE_STATE:ASLEEP``)."""
    return f"{error_type}:{code or 'UNKNOWN'}"


def connected_services_account_key(code: str | None) -> str:
    """How a CONNECTED_SERVICES_ACCOUNT error is remembered in ``Vehicle.vehicle_errors``."""
    return vehicle_error_key("CONNECTED_SERVICES_ACCOUNT", code)


def owner_action_message(make: str, code: str | None) -> str:
    """What a CONNECTED_SERVICES_ACCOUNT error asks of the owner: to act in their car maker's app or account."""
    return f"The owner must fix their {make or 'car maker'} connected-services account: {code or 'UNKNOWN'}."


def record_account_error(vehicle: Vehicle, exc: client.SmartcarException) -> None:
    """Record what a CONNECTED_SERVICES_ACCOUNT error (from a refresh or a command) means, in one place.

    Whose resolution is REAUTHENTICATE (AUTHENTICATION_FAILED...; ``tokens.needs_reauthentication``): the
    account needs re-authenticating. Any other (ACCOUNT_ISSUE, SUBSCRIPTION, VIRTUAL_KEY_REQUIRED...): the owner
    must act at their car maker; the account stays usable and the error is remembered on the vehicle until the
    car answers again (or a webhook says RESOLVED).
    """
    if exc.type != "CONNECTED_SERVICES_ACCOUNT":
        return
    message = owner_action_message(vehicle.display_make, exc.code)
    if needs_reauthentication(exc.type, exc.resolution):
        if vehicle.account.is_usable:
            mark_reauth_required(vehicle.account, message)
        return
    logger.warning("Vehicle pk=%s: %s", vehicle.pk, message)
    record_vehicle_problems(vehicle, errors=[connected_services_account_key(exc.code)])


def is_retried_later(exc: client.SmartcarException) -> bool:
    """VEHICLE_STATE (asleep, unreachable...): the car's passing state, not a permanent failure nor a reason to
    reconnect; the refresh is tried again later (``refresh_vehicle_data``, the refresh task)."""
    return exc.type == "VEHICLE_STATE"


def is_refresh_transient(exc: client.SmartcarException) -> bool:
    """Whether a refresh whose whole request failed is worth queueing again (the refresh task's retries): what
    the client would repeat itself (``retryable``: rate limits, lost connections) or the car's passing state.
    Narrower than ``tokens.is_transient``: a billed read is not repeated after any 5xx."""
    return exc.retryable or is_retried_later(exc)


def is_not_capable_error(error_type: str | None, code: str | None) -> bool:
    """Whether Smartcar says the vehicle itself cannot give this data (not a permission, a limit or an outage):
    COMPATIBILITY VEHICLE_NOT_CAPABLE, from an API answer or a webhook's error."""
    return error_type == "COMPATIBILITY" and code == "VEHICLE_NOT_CAPABLE"


def is_not_capable(exc: client.SmartcarException) -> bool:
    """``is_not_capable_error`` of a raised error."""
    return is_not_capable_error(exc.type, exc.code)


_STATUS_REASONS = {429: "rate limited", 430: "billing limit reached", 504: "timed out"}
_TYPE_REASONS = {
    "RATE_LIMIT": "rate limited",
    "BILLING": "billing limit reached",
    "PERMISSION": "permission not granted",
    "AUTHENTICATION": "authentication failed",
    "CONNECTED_SERVICES_ACCOUNT": "car maker account issue",
    "COMPATIBILITY": "not supported",
    "SERVER": "Smartcar server error",
    "UPSTREAM": "car maker unavailable",
    "VALIDATION": "refused as invalid",
    "RESOURCE_NOT_FOUND": "not found (a bug in the request)",
}


def failure_reason(exc: client.SmartcarException) -> str:
    """A few words on why a data point could not be read (``"vehicle asleep"``, ``"rate limited"``).

    Built from the error's type and code only, never its description (which may quote anything).
    """
    if is_retried_later(exc):
        return f"vehicle {(exc.code or 'state').lower().replace('_', ' ')}, retried later"
    if exc.type in _TYPE_REASONS:
        return _TYPE_REASONS[exc.type]
    if isinstance(exc, client.SmartcarTimeout):
        return "timed out"
    if isinstance(exc, client.SmartcarConnectionError):
        return "Smartcar unreachable"
    if exc.status_code in _STATUS_REASONS:
        return _STATUS_REASONS[exc.status_code]
    if exc.status_code and exc.status_code >= 500:
        return f"Smartcar error {exc.status_code}"
    return "failed"


def not_capable_now(vehicle: Vehicle, now: datetime | None = None) -> set[str]:
    """The data groups a refresh skips: learnt not capable less than ``NOT_CAPABLE_RECHECK_AFTER`` ago."""
    recheck_after = smartcar_settings.NOT_CAPABLE_RECHECK_AFTER
    now = now or timezone.now()
    skipped = set()
    for name, learnt in (vehicle.not_capable or {}).items():
        try:
            learnt_at = datetime.fromisoformat(learnt)
        except (TypeError, ValueError):
            continue  # unreadable: ask again, and learn it anew
        if timezone.is_naive(learnt_at):
            continue
        if recheck_after is None or now - learnt_at < recheck_after:
            skipped.add(name)
    return skipped


def refreshable_paths(vehicle: Vehicle, now: datetime | None = None) -> list[str]:
    """The paths a refresh asks for: every permitted data point the vehicle is capable of (as far as we know),
    and the VIN only while it is unknown."""
    skipped = not_capable_now(vehicle, now)
    return [
        group.path
        for group in DATA_GROUPS
        if vehicle.has_permission(group.permission)
        and group.name not in skipped
        and (group.age_field or not getattr(vehicle, group.name, ""))
    ]


def refreshable_vehicle_ids(now: datetime | None = None) -> Iterator[int]:
    """Connected vehicles of usable accounts whose data is older than ``VEHICLE_REFRESH_INTERVAL``, streamed."""
    interval = smartcar_settings.VEHICLE_REFRESH_INTERVAL
    if interval is None:
        return
    # A little slack, so a vehicle refreshed just after the previous beat is not skipped by this one.
    stale_before = (now or timezone.now()) - interval * 0.9
    queryset = (
        Vehicle.objects.filter(is_connected=True, account__status__in=USABLE_STATUSES)
        .filter(Q(data_refreshed_at__isnull=True) | Q(data_refreshed_at__lt=stale_before))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    yield from queryset.iterator(chunk_size=int(smartcar_settings.FANOUT_CHUNK_SIZE))


def ensure_connected(vehicle: Vehicle) -> None:
    """Raise ``VehicleDisconnected`` for a disconnected vehicle: every call Smartcar would refuse is billed.
    Checked before a refresh and before a command."""
    if not vehicle.is_connected:
        raise VehicleDisconnected(vehicle)


def ensure_refreshable(vehicle: Vehicle) -> None:
    """The one eligibility rule for reading a vehicle's data, now or queued: ``VehicleDisconnected`` for a
    disconnected vehicle, ``AccountUnavailable`` when its account needs reconnecting. Checked before any billed
    request is sent."""
    ensure_connected(vehicle)
    if not vehicle.account.is_usable:
        raise AccountUnavailable(vehicle.account)


def refresh_vehicle_data(
    vehicle: Vehicle, *, retry_later: bool = True, kind: str = budget.SCHEDULED
) -> RefreshResult:
    """Fetch every data point the vehicle permits in ONE request (v2: a batch; V3: its signals), and store what
    is newer.

    A vehicle ``ensure_refreshable`` refuses raises its refusal here, before any billed request is sent; so does
    a read its monthly budget has no room for (``BudgetExhausted``; ``kind`` says whose budget: polling's, or
    people's with the reserved share). Every read sets the vehicle's next poll (``polling.after_read``). When
    the car's state made data points fail (asleep, unreachable: ``is_retried_later``), a background refresh is
    queued for later, unless ``retry_later`` is False (the refresh task retries itself instead).
    """
    ensure_refreshable(vehicle)
    paths = refreshable_paths(vehicle)
    if not paths:
        return RefreshResult()
    billed = budget.billed_requests(vehicle.account, paths)
    try:
        budget.ensure_allowed(vehicle, billed, kind)
    except BudgetExhausted:
        polling.after_read(vehicle, polling.BUDGET, billed_per_poll=billed)
        raise
    pacing.spend(1)
    previous_odometer = vehicle.odometer_km
    try:
        reading = account_api(vehicle.account).read_data(vehicle, paths)
    except client.SmartcarException as exc:
        record_read_failure(vehicle, exc, billed=billed, kind=kind)
        raise
    result = store_reading(vehicle, reading, billed=billed, previous_odometer=previous_odometer)
    if retry_later and result.retry_later:
        queue_refresh_later(vehicle, backoff_delay(0, float(smartcar_settings.RETRY_BACKOFF)))
    return result


def record_read_failure(vehicle: Vehicle, exc: client.SmartcarException, *, billed: int, kind: str) -> None:
    """A read that failed as a whole: its budget given back when Smartcar did not bill it, the account's error
    recorded, the next poll backed off (after a rate limit, not before Smartcar's Retry-After)."""
    log_refused_request(exc, f"the refresh of vehicle pk={vehicle.pk}")
    if budget.is_unbilled(exc):
        budget.give_back(vehicle, billed, kind)
    if exc.type == "RATE_LIMIT" and exc.code == "SMARTCAR_API" and exc.retry_after:
        pacing.drain(exc.retry_after)
    record_account_error(vehicle, exc)
    polling.after_read(
        vehicle, polling.state_after_failure(exc), billed_per_poll=billed, retry_after=exc.retry_after
    )


def store_reading(
    vehicle: Vehicle, reading: VehicleReading, *, billed: int, previous_odometer: float | None
) -> RefreshResult:
    """Store what one read brought (newer data wins), and set the vehicle's next poll from it."""
    result = RefreshResult()
    points = []
    for path, answer in reading.answers.items():
        if isinstance(answer, client.SmartcarException):
            if is_not_capable(answer) and path in DATA_GROUPS_BY_PATH:
                result.not_capable.append(DATA_GROUPS_BY_PATH[path].name)
            else:
                result.errors[path] = answer
                record_account_error(vehicle, answer)
            continue
        points.append(answer)
        result.read.append(data_point_name(path))
    result.updated = apply_vehicle_data(vehicle, points, not_capable=result.not_capable)
    if result.read and vehicle.vehicle_errors:
        # The car answered: whatever state error a webhook reported (asleep, unreachable) is over.
        record_vehicle_problems(vehicle, resolved_errors=list(vehicle.vehicle_errors))
    if result.not_capable:
        logger.info(
            "Vehicle pk=%s is not capable of %s: not asked for again before %s",
            vehicle.pk,
            ", ".join(result.not_capable),
            "it reconnects"
            if smartcar_settings.NOT_CAPABLE_RECHECK_AFTER is None
            else "NOT_CAPABLE_RECHECK_AFTER has passed",
        )
    state = polling.state_after_reading(
        vehicle,
        read_anything=bool(result.read),
        errors=list(result.errors.values()),
        previous_odometer=previous_odometer,
    )
    polling.after_read(vehicle, state, billed_per_poll=billed)
    transaction.on_commit(
        lambda: signals.vehicle_data_refreshed.send(
            sender=Vehicle, vehicle=vehicle, updated=result.updated, errors=result.errors
        )
    )
    return result


def queue_refresh_later(vehicle: Vehicle, delay: float) -> None:
    """Queue a background refresh in ``delay`` seconds, once the caller's rows are committed (best effort: a
    broker that is down is logged, and beat reads the car at its next round)."""
    from .. import tasks  # tasks imports the services: imported here, when first needed

    vehicle_id = vehicle.pk
    transaction.on_commit(
        lambda: queueing.send_now(
            lambda: tasks.refresh_vehicle_data.apply_async((vehicle_id,), countdown=delay),
            what="refresh retried later",
        )
    )


def refresh_queued_vehicle(vehicle_id: int, *, retry_later: bool = True) -> RefreshResult | None:
    """What a worker does with a queued refresh: ``None`` (nothing sent) for a vehicle deleted, or refused by
    ``ensure_refreshable`` since it was queued; otherwise ``refresh_vehicle_data``."""
    vehicle = Vehicle.objects.select_related("account").filter(pk=vehicle_id).first()
    if vehicle is None:
        return None
    try:
        ensure_refreshable(vehicle)
        return refresh_vehicle_data(vehicle, retry_later=retry_later)
    except (VehicleDisconnected, AccountUnavailable, BudgetExhausted):
        return None


def apply_vehicle_data(
    vehicle: Vehicle, points: Iterable[DataPoint], *, not_capable: Iterable[str] = ()
) -> list[str]:
    """Store data points on the vehicle, skipping any older than what the row already holds.

    Every writer (polling, webhooks, commands) comes through here, so this is where values are validated: a
    group with an invalid value or a data age in the future is dropped (and logged), the others are stored.
    ``not_capable`` names the groups Smartcar just said the vehicle cannot give (remembered, with the time); a
    group that brings data again is forgotten from that memory.

    The row is locked and re-read, so a webhook and a poll landing together cannot undo each other. Returns the
    names of the groups that changed, and refreshes ``vehicle`` in place.
    """
    updated: list[str] = []
    now = timezone.now()
    with transaction.atomic():
        locked = select_for_update(Vehicle.objects.filter(pk=vehicle.pk)).get()
        changed_fields: set[str] = set()
        remembered = dict(locked.not_capable or {})
        for name in not_capable:
            remembered[name] = now.isoformat()
        for point in points:
            group = DATA_GROUPS_BY_PATH.get(point.path)
            if group is None:
                continue
            remembered.pop(group.name, None)  # it answered: capable after all
            try:
                age = checked_age(group, point.age, now)
                values = validated_values(group, point.body)
            except InvalidValue as exc:
                # The vehicle's pk and what failed, never the value nor anything that could carry a secret.
                logger.warning("Dropped data for vehicle pk=%s: %s", vehicle.pk, exc)
                continue
            if group.age_field:
                stored_age = getattr(locked, group.age_field)
                if stored_age is not None and age <= stored_age:
                    continue
                setattr(locked, group.age_field, age)
                changed_fields.add(group.age_field)
            if not group.age_field and all(getattr(locked, name) == value for name, value in values.items()):
                continue  # static data (the VIN) that did not change is no update
            for model_field, value in values.items():
                setattr(locked, model_field, value)
            changed_fields.update(values)
            updated.append(group.name)
        if remembered != (locked.not_capable or {}):
            locked.not_capable = remembered
            changed_fields.add("not_capable")
        locked.data_refreshed_at = now
        locked.save(update_fields=[*changed_fields, "data_refreshed_at", "updated_at"])
    for name in [f.attname for f in Vehicle._meta.concrete_fields]:
        setattr(vehicle, name, getattr(locked, name))
    return updated


def record_vehicle_problems(
    vehicle: Vehicle,
    *,
    missing_permissions: Iterable[str] = (),
    granted_permissions: Iterable[str] = (),
    not_capable: Iterable[str] = (),
    capable: Iterable[str] = (),
    errors: Iterable[str] = (),
    resolved_errors: Iterable[str] = (),
) -> bool:
    """Remember (or forget) what Smartcar said is wrong with reading a vehicle, with the time it was learnt.

    ``missing_permissions``: permissions Smartcar says the app lacks for this vehicle (refreshes skip their
    data, ``Vehicle.has_permission``); ``not_capable``: data groups it cannot give (as a refresh learns them);
    ``errors``: ``"TYPE:CODE"`` of a state the vehicle is in (``VEHICLE_STATE:ASLEEP``). The other arguments
    forget them. The row is locked and re-read; returns whether anything changed (and refreshes ``vehicle``).
    """
    now = timezone.now().isoformat()
    fields = {
        "missing_permissions": (missing_permissions, granted_permissions),
        "not_capable": (not_capable, capable),
        "vehicle_errors": (errors, resolved_errors),
    }
    with transaction.atomic():
        locked = select_for_update(Vehicle.objects.filter(pk=vehicle.pk)).get()
        changed = []
        for name, (learnt, forgotten) in fields.items():
            current = dict(getattr(locked, name) or {})
            updated = dict(current)
            for key in forgotten:
                updated.pop(key, None)
            for key in learnt:
                updated.setdefault(key, now)
            if updated != current:
                setattr(locked, name, updated)
                changed.append(name)
        if changed:
            locked.save(update_fields=[*changed, "updated_at"])
    for name in (*fields, "updated_at"):
        setattr(vehicle, name, getattr(locked, name))
    return bool(changed)
