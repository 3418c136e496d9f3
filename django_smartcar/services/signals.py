"""Signals: Smartcar's standardized vehicle data (API V3 ``/signals``, v4 webhooks), read and stored in one place.

Two things are done with a list of signals, wherever it came from (a webhook, a V3 refresh):

* ``read_signals`` turns the signals this app knows (``SIGNALS``) into the data points of its typed fields
  (odometer, battery, location...) for ``apply_vehicle_data``, and the per-signal errors into what they mean
  for the vehicle (a permission missing, data it cannot give, a state it is in).
* ``record_signals`` keeps the latest value of EVERY signal reported, known to this app or not, as one
  ``VehicleSignal`` row per code, so that the admin, the REST API and the demo can show all of them.

Both accept a signal in the v4 webhook shape (``{code, name, group, status, body, meta}``) or as a V3 JSON:API
resource (``{id, type, attributes: {code, name, group, status, body}, meta}``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..client.results import parse_datetime
from ..conf import smartcar_settings
from ..db import select_for_update
from ..models import Vehicle, VehicleSignal
from ..text import column_length, is_plain_text
from .vehicles import (
    DATA_GROUPS_BY_NAME,
    DataPoint,
    InvalidValue,
    apply_vehicle_data,
    checked_json_object,
    is_not_capable_error,
    record_vehicle_problems,
    vehicle_error_key,
)

logger = logging.getLogger(__name__)

MILES_IN_KM = 1.609344
KPA_PER_PSI = 6.894757
KPA_PER_BAR = 100.0
LITERS_PER_GALLON = 3.785411784  # US gallons

# What a malformed part of a signal raises while it is read (float("x"), body["missing"], None + 1...).
UNREADABLE = (ArithmeticError, LookupError, TypeError, ValueError, AttributeError)

CODE_MAX_LENGTH = column_length(VehicleSignal, "code")
NAME_MAX_LENGTH = column_length(VehicleSignal, "name")
GROUP_MAX_LENGTH = column_length(VehicleSignal, "group")
# A signal body is a few numbers (a door grid, four tires): anything bigger is not a signal worth keeping, and
# every row is shown in the admin and the API.
BODY_MAX_CHARS = 16_384
ERROR_MAX_CHARS = 4_096
STATUSES = frozenset(VehicleSignal.Status.values)


# --- Signal bodies, in the units Smartcar writes ---------------------------------------------------------------


def _unit(body: dict[str, Any]) -> str:
    return str(body.get("unit") or "").strip().lower()


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("not a number")
    return float(value)


def _fraction(body: dict[str, Any]) -> float:
    """A v4 percentage as a v2 body's fraction (stored as a percent again).

    ``"unit": "percent"`` (or ``%``): 0-100, as Smartcar documents it. No unit: a value above 1 is a percent
    (75), one of at most 1 a fraction (0.77, as a BMW was captured sending).
    """
    value = _number(body["value"])
    unit = _unit(body)
    if unit in ("percent", "%", "pct"):
        return value / 100
    if unit:
        raise ValueError(f"unknown percentage unit {unit[:20]!r}")
    return value if value <= 1 else value / 100


DISTANCE_UNITS_KM = {"km": 1.0, "kilometers": 1.0, "kilometres": 1.0, "mi": MILES_IN_KM, "miles": MILES_IN_KM}


def _distance_km(body: dict[str, Any]) -> float:
    unit = _unit(body) or "km"
    if unit not in DISTANCE_UNITS_KM:
        raise ValueError(f"unknown distance unit {unit[:20]!r}")
    return _number(body["value"]) * DISTANCE_UNITS_KM[unit]


VOLUME_UNITS_LITERS = {
    "l": 1.0,
    "liters": 1.0,
    "litres": 1.0,
    "gal": LITERS_PER_GALLON,
    "gallons": LITERS_PER_GALLON,
}


def _liters(body: dict[str, Any]) -> float:
    unit = _unit(body) or "liters"
    if unit not in VOLUME_UNITS_LITERS:
        raise ValueError(f"unknown volume unit {unit[:20]!r}")
    return _number(body["value"]) * VOLUME_UNITS_LITERS[unit]


def _kpa(value: Any, unit: str) -> float:
    """A tire pressure in kPa. ``bar`` is read as Smartcar sends it: real captures carry kPa-sized values
    (258) under "bar", so a value above 20 (no tire holds 20 bar) is taken as kPa already."""
    number = _number(value)
    if unit in ("kpa", ""):
        return number
    if unit == "bar":
        return number if number > 20 else round(number * KPA_PER_BAR, 3)
    if unit == "psi":
        return round(number * KPA_PER_PSI, 3)
    raise ValueError(f"unknown pressure unit {unit[:20]!r}")


TIRE_CORNERS = {(0, 0): "frontLeft", (0, 1): "frontRight", (1, 0): "backLeft", (1, 1): "backRight"}


def _tires(body: dict[str, Any]) -> dict[str, Any]:
    """``wheel-tires`` (a grid of rows front to back, columns left to right) as the v2 four corners, in kPa."""
    unit = _unit(body)
    pressures = {}
    for tire in body["values"]:
        corner = TIRE_CORNERS.get((tire["row"], tire["column"]))
        if corner is not None and tire.get("tirePressure") is not None:
            pressures[corner] = _kpa(tire["tirePressure"], unit)
    if not pressures:
        raise ValueError("no tire pressure")
    return pressures


def _charge_state(body: dict[str, Any]) -> dict[str, Any]:
    value = body["value"]
    return {"state": value.upper() if isinstance(value, str) else value}


# v4 signal codes -> (the data group they fill, named as in DATA_GROUPS; body in that group's v2 shape).
SIGNALS: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "vehicleidentification-vin": ("vin", lambda body: {"vin": body["value"]}),
    "odometer-traveleddistance": ("odometer", lambda body: {"distance": _distance_km(body)}),
    "location-preciselocation": (
        "location",
        lambda body: {"latitude": _number(body["latitude"]), "longitude": _number(body["longitude"])},
    ),
    # Passed as sent: apply_vehicle_data refuses what is not a boolean / a short string.
    "closure-islocked": ("security", lambda body: {"isLocked": body["value"]}),
    "tractionbattery-stateofcharge": ("battery", lambda body: {"percentRemaining": _fraction(body)}),
    "tractionbattery-range": ("battery", lambda body: {"range": _distance_km(body)}),
    "charge-detailedchargingstatus": ("charge", _charge_state),
    "charge-ischargingcableconnected": ("charge", lambda body: {"isPluggedIn": body["value"]}),
    "internalcombustionengine-fuellevel": ("fuel", lambda body: {"percentRemaining": _fraction(body)}),
    "internalcombustionengine-range": ("fuel", lambda body: {"range": _distance_km(body)}),
    "internalcombustionengine-amountremaining": ("fuel", lambda body: {"amountRemaining": _liters(body)}),
    "internalcombustionengine-oillife": ("engine_oil", lambda body: {"lifeRemaining": _fraction(body)}),
    "wheel-tires": ("tire_pressure", _tires),
}
# The signal that stands for its data group: only its VEHICLE_NOT_CAPABLE makes the group not capable (a car
# without a battery range still reports its state of charge).
PRIMARY = frozenset(
    {
        "vehicleidentification-vin",
        "odometer-traveleddistance",
        "location-preciselocation",
        "closure-islocked",
        "tractionbattery-stateofcharge",
        "charge-detailedchargingstatus",
        "internalcombustionengine-fuellevel",
        "internalcombustionengine-oillife",
        "wheel-tires",
    }
)


def data_group_of(code: str) -> str | None:
    """The typed data group (``DATA_GROUPS`` name) a signal code feeds, or None for a signal only kept as is."""
    known = SIGNALS.get(code)
    return known[0] if known else None


def epoch_or_iso(value: Any) -> datetime | None:
    """A v4 time: epoch milliseconds (every 2025-2026 capture), or an ISO 8601 string (docs, a VERIFY capture).

    0 (a static signal's times) and anything unreadable are None.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, (int, float)):
        if not value > 0:
            return None
        try:
            return datetime.fromtimestamp(value / 1000, tz=dt_timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    return parse_datetime(value)


def signal_code(reference: Any) -> str | None:
    """A signal's code from ``{"code": ...}``, ``{"name", "group"}`` or ``"Group.Name"``.

    ``code`` is ``lower(group)-lower(name)``; when an object carries a code it wins (a captured error swaps name
    and group but keeps the code right).
    """
    if isinstance(reference, Mapping):
        code = reference.get("code")
        if isinstance(code, str) and code:
            return code.lower()
        group, name = reference.get("group"), reference.get("name")
        if isinstance(group, str) and isinstance(name, str):
            return f"{group}-{name}".lower()
        return None
    if isinstance(reference, str) and "." in reference:
        group, _, name = reference.partition(".")
        return f"{group}-{name}".lower()
    return None


def flat_signal(signal: Any) -> dict[str, Any] | None:
    """A signal in the webhook shape (``code``, ``name``, ``group``, ``status``, ``body``, ``meta`` at the top),
    from that shape or a V3 JSON:API resource (the same under ``attributes``; ``meta`` beside them). A client
    result object with a ``raw`` mapping is read through it. None: not an object at all."""
    raw = getattr(signal, "raw", None)
    if not isinstance(signal, Mapping) and isinstance(raw, Mapping):
        signal = raw
    if not isinstance(signal, Mapping):
        return None
    attributes = signal.get("attributes")
    if not isinstance(attributes, Mapping):
        return dict(signal)
    flat = dict(attributes)
    flat.setdefault("meta", signal.get("meta"))
    if not flat.get("code") and isinstance(signal.get("id"), str):
        flat["code"] = signal["id"]
    return flat


def _signal_error(signal: Any) -> tuple[str, str | None] | None:
    """``(type, code)`` of a signal listed with ``status.value`` ERROR (no body), else None."""
    if not isinstance(signal, Mapping):
        return None
    status = signal.get("status")
    if not isinstance(status, Mapping) or str(status.get("value", "")).upper() != "ERROR":
        return None
    error = status.get("error")
    error = error if isinstance(error, Mapping) else {}
    code = error.get("code")
    return str(error.get("type") or "UNKNOWN").upper(), code if isinstance(code, str) else None


def _status(signal: Mapping[str, Any]) -> str:
    """``status.value`` upper-cased; absent (Oct-2025 captures carried none): SUCCESS."""
    status = signal.get("status")
    if status is None:
        return VehicleSignal.Status.SUCCESS
    value = status.get("value") if isinstance(status, Mapping) else status
    return str(value or "").upper()


def _signal_times(signal: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """``(oem_updated_at, retrieved_at)``; the docs' ``fetchedAt`` stands for ``retrievedAt``."""
    raw_meta = signal.get("meta")
    meta = raw_meta if isinstance(raw_meta, Mapping) else {}
    retrieved = epoch_or_iso(meta.get("retrievedAt"))
    return epoch_or_iso(meta.get("oemUpdatedAt")), retrieved or epoch_or_iso(meta.get("fetchedAt"))


def _signal_point(signal: Any, received_at: datetime) -> DataPoint | None:
    if (
        not isinstance(signal, Mapping)
        or signal_code(signal) not in SIGNALS
        or not isinstance(signal.get("body"), dict)
        or _status(signal) != VehicleSignal.Status.SUCCESS
    ):
        return None  # signals this app does not store as typed data (every one is kept by record_signals)
    group, convert = SIGNALS[signal_code(signal) or ""]
    path = DATA_GROUPS_BY_NAME[group].path
    oem_updated_at, retrieved_at = _signal_times(signal)
    # When the car recorded the value; else when Smartcar read it; else receipt.
    return DataPoint(path, convert(signal["body"]), oem_updated_at or retrieved_at or received_at)


# --- Reading: signals as typed data and as what their errors mean ------------------------------------------------


@dataclass
class SignalReport:
    """Per-signal errors of one list of signals, as what they mean for the vehicle."""

    missing_permissions: set[str] = field(default_factory=set)
    granted: set[str] = field(default_factory=set)
    not_capable: set[str] = field(default_factory=set)
    state_errors: set[str] = field(default_factory=set)

    def add_error(self, signal: Mapping[str, Any], error_type: str, code: str | None) -> None:
        known = SIGNALS.get(signal_code(signal) or "")
        if error_type == "VEHICLE_STATE":
            self.state_errors.add(vehicle_error_key(error_type, code))
        if known is None:
            return
        group = DATA_GROUPS_BY_NAME[known[0]]
        if error_type == "PERMISSION":
            self.missing_permissions.add(group.permission)
        elif is_not_capable_error(error_type, code) and signal_code(signal) in PRIMARY:
            self.not_capable.add(group.name)


@dataclass
class SignalReadout:
    """What a list of signals means for a vehicle's typed data, ready for ``apply_vehicle_data`` and
    ``record_vehicle_problems``.

    ``points``: one per data group (several signals feeding one group are merged); ``not_capable``: data groups
    the vehicle cannot give; ``missing_permissions`` / ``granted``: permissions Smartcar said are missing / that
    data proved granted (never both); ``errors``: ``"TYPE:CODE"`` keys of a state the vehicle is in
    (``VEHICLE_STATE:ASLEEP``); ``signal_errors``: each ERROR signal's code -> ``(type, code)``; ``skipped``:
    a note for each signal that could not be read (no value in it).
    """

    points: list[DataPoint] = field(default_factory=list)
    not_capable: list[str] = field(default_factory=list)
    missing_permissions: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    granted: set[str] = field(default_factory=set)
    signal_errors: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def merge_points(points: Iterable[DataPoint]) -> list[DataPoint]:
    """One point per path: several signals can feed one data group (battery level and range), the newest age."""
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
    return list(merged.values())


def read_signals(signals: Iterable[Any], *, received_at: datetime) -> SignalReadout:
    """Read signals (webhook or V3 API shape) as typed data points and per-signal problems, as webhooks do.

    Signals this app does not map to a typed field are ignored here (``record_signals`` keeps them); one that
    cannot be read is noted in ``skipped`` and the others are read. ``received_at`` stands in for the data age
    of a value that carries no time.
    """
    readout = SignalReadout()
    report = SignalReport()
    points: list[DataPoint] = []
    for index, raw in enumerate(signals):
        signal = flat_signal(raw)
        try:
            if signal is None:
                raise TypeError("not an object")
            error = _signal_error(signal)
            if error is not None:
                report.add_error(signal, *error)
                readout.signal_errors[signal_code(signal) or f"#{index}"] = error
                continue
            point = _signal_point(signal, received_at)
        except UNREADABLE as exc:
            code = signal.get("code") if isinstance(signal, Mapping) else None
            readout.skipped.append(f"signal {index} ({str(code)[:60]}) skipped: {type(exc).__name__}")
            continue
        if point is not None:
            points.append(point)
            report.granted.add(DATA_GROUPS_BY_NAME[SIGNALS[signal_code(signal) or ""][0]].permission)
    readout.points = merge_points(points)
    readout.not_capable = sorted(report.not_capable)
    readout.missing_permissions = report.missing_permissions
    readout.granted = report.granted - report.missing_permissions
    readout.errors = sorted(report.state_errors)
    return readout


@dataclass(frozen=True)
class ReadoutApplied:
    """What ``apply_readout`` did: the data groups that changed (None: no data to apply), and whether the
    vehicle's remembered problems (permissions, not capable, states) changed."""

    updated: list[str] | None
    problems_changed: bool


def apply_readout(vehicle: Vehicle, readout: SignalReadout) -> ReadoutApplied:
    """Store a readout on its vehicle: per-signal problems first (a permission this vehicle lacks, not the whole
    account's; data it cannot give; a state it is in), then the typed data (data that came forgets them: the
    order within apply_vehicle_data, data wins). Queuing a retry for a state error is the caller's choice."""
    problems_changed = record_vehicle_problems(
        vehicle,
        missing_permissions=readout.missing_permissions,
        granted_permissions=readout.granted,
        errors=readout.errors,
    )
    if not readout.points and not readout.not_capable:
        return ReadoutApplied(None, problems_changed)
    updated = apply_vehicle_data(vehicle, readout.points, not_capable=readout.not_capable)
    return ReadoutApplied(updated, problems_changed)


# --- Recording: the latest value of every signal, per code --------------------------------------------------------


class RecordedSignals(list[str]):
    """The codes whose stored signal changed (a list), and ``skipped``: a note per signal refused as unreadable
    or hostile (never its value)."""

    def __init__(self, codes: Iterable[str] = (), skipped: Iterable[str] = ()) -> None:
        super().__init__(codes)
        self.skipped: list[str] = list(skipped)


@dataclass(frozen=True)
class _Incoming:
    code: str
    name: str
    group: str
    status: str
    body: dict[str, Any] | None
    error: dict[str, Any] | None
    oem_updated_at: datetime | None
    retrieved_at: datetime | None


def _checked_json(value: Any, max_chars: int, what: str) -> dict[str, Any]:
    """A JSON object every database stores and the API renders, of bounded depth and size."""
    try:
        checked = checked_json_object(value)
    except InvalidValue as exc:
        raise InvalidValue(f"{what}: {exc}") from None
    if len(json.dumps(checked)) > max_chars:
        raise InvalidValue(f"{what}: larger than {max_chars} characters")
    return checked


def _label(signal: Mapping[str, Any], key: str, max_length: int) -> str:
    value = signal.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or not is_plain_text(value, max_length):
        raise InvalidValue(f"{key}: not a plain string of at most {max_length} characters")
    return value


def _incoming(signal: Any, now: datetime) -> _Incoming:
    """A reported signal checked whole before anything is stored; raises ``InvalidValue`` saying what is wrong
    (never the value: it may be anything a sender chose)."""
    flat = flat_signal(signal)
    if flat is None:
        raise InvalidValue("not an object")
    code = signal_code(flat)
    if not code or not is_plain_text(code, CODE_MAX_LENGTH):
        raise InvalidValue(f"code: missing, or not a plain string of at most {CODE_MAX_LENGTH} characters")
    status = _status(flat)
    if status not in STATUSES:
        raise InvalidValue("status: not SUCCESS, ERROR or UNAVAILABLE")
    body = flat.get("body")
    if status == VehicleSignal.Status.SUCCESS:
        if body is None:
            raise InvalidValue("a SUCCESS without a body")
        body = _checked_json(body, BODY_MAX_CHARS, "body")
    else:
        # An ERROR or UNAVAILABLE signal's value is not a value: the last good one stays (record_signals).
        body = None
    error = None
    if status == VehicleSignal.Status.ERROR:
        raw_status = flat.get("status")
        raw_error = raw_status.get("error") if isinstance(raw_status, Mapping) else None
        error = _checked_json(raw_error if raw_error is not None else {}, ERROR_MAX_CHARS, "status.error")
    oem_updated_at, retrieved_at = _signal_times(flat)
    limit = now + smartcar_settings.DATA_AGE_FUTURE_TOLERANCE
    if any(moment is not None and moment > limit for moment in (oem_updated_at, retrieved_at)):
        # Newer wins: one time in year 9999 would freeze the signal for good.
        raise InvalidValue("a time in the future")
    return _Incoming(
        code=code,
        name=_label(flat, "name", NAME_MAX_LENGTH),
        group=_label(flat, "group", GROUP_MAX_LENGTH),
        status=status,
        body=body,
        error=error,
        oem_updated_at=oem_updated_at,
        retrieved_at=retrieved_at,
    )


def _value_is_newer(incoming: _Incoming, stored: VehicleSignal, received_at: datetime) -> bool:
    """Whether a SUCCESS value replaces the stored one: by ``oem_updated_at`` when both have it, else by
    ``retrieved_at`` when both have it, else by the first time each has (the time it was received last).
    Equal is not newer: a repeat changes nothing."""
    if stored.body is None and stored.oem_updated_at is None and stored.retrieved_at is None:
        return True  # nothing known yet (only an error or UNAVAILABLE): any value is news
    for name in ("oem_updated_at", "retrieved_at"):
        new, old = getattr(incoming, name), getattr(stored, name)
        if new is not None and old is not None:
            return bool(new > old)
    new_moment = incoming.oem_updated_at or incoming.retrieved_at or received_at
    old_moment = stored.oem_updated_at or stored.retrieved_at or stored.received_at
    return new_moment > old_moment


def _apply_incoming(incoming: _Incoming, row: VehicleSignal, received_at: datetime) -> bool:
    """Apply one reported signal to its row (in memory); returns whether the row changed.

    Two things are kept, each newest first: the VALUE (``body`` and its ``oem_updated_at``/``retrieved_at``),
    replaced only by a SUCCESS with a newer time; and the OUTCOME (``status``, ``error``, ``received_at``), the
    latest one received. An ERROR or UNAVAILABLE therefore never erases the last good value: the row shows it,
    with its time, beside the error (what a user of the admin or the API expects: the last known odometer, and
    that reading it failed since). A value received before a later error does not hide that error.
    """
    before = (
        row.name,
        row.group,
        row.status,
        row.body,
        row.error,
        row.oem_updated_at,
        row.retrieved_at,
        row.received_at,
    )
    outcome_is_newer = row.pk is None or received_at > row.received_at
    if incoming.status == VehicleSignal.Status.SUCCESS:
        if not _value_is_newer(incoming, row, received_at):
            return False
        row.body = incoming.body
        row.oem_updated_at = incoming.oem_updated_at
        row.retrieved_at = incoming.retrieved_at
        if outcome_is_newer or row.status == VehicleSignal.Status.SUCCESS:
            row.status, row.error, row.received_at = incoming.status, None, max(received_at, row.received_at)
    elif outcome_is_newer:
        row.status, row.error, row.received_at = incoming.status, incoming.error, received_at
    else:
        return False
    row.name, row.group = incoming.name or row.name, incoming.group or row.group
    after = (
        row.name,
        row.group,
        row.status,
        row.body,
        row.error,
        row.oem_updated_at,
        row.retrieved_at,
        row.received_at,
    )
    return after != before


RECORDED_FIELDS = [
    "name",
    "group",
    "status",
    "body",
    "error",
    "oem_updated_at",
    "retrieved_at",
    "received_at",
]


def record_signals(vehicle: Vehicle, signals: Iterable[Any], *, received_at: datetime) -> RecordedSignals:
    """Keep the latest of every signal reported for ``vehicle`` (one ``VehicleSignal`` per code), known to this
    app or not; returns the codes whose row changed (``.skipped`` notes the signals refused).

    Newer never loses to older, per signal (``_apply_incoming``): out-of-order webhooks and a poll landing with
    a webhook cannot undo each other, since the vehicle row is locked while its signals are read and written.
    ``received_at`` is when the signals reached this app (a webhook's receipt, a poll's answer). A signal that
    is unreadable or hostile (code too long, a body nested too deeply or too large, NUL, NaN, a time in the
    future) is skipped and noted, the others are stored; each row is checked whole before any is written.
    """
    now = timezone.now()
    skipped: list[str] = []
    incoming: list[_Incoming] = []
    for index, signal in enumerate(signals):
        try:
            incoming.append(_incoming(signal, now))
        except InvalidValue as exc:
            skipped.append(f"signal {index} not stored: {exc}")
    if skipped:
        logger.warning(
            "Skipped %s signal(s) of vehicle pk=%s: %s", len(skipped), vehicle.pk, "; ".join(skipped)
        )
    if not incoming:
        return RecordedSignals((), skipped)
    changed: dict[str, VehicleSignal] = {}
    with transaction.atomic():
        locked = select_for_update(Vehicle.objects.filter(pk=vehicle.pk)).get()
        rows = {
            row.code: row
            for row in VehicleSignal.objects.filter(vehicle=locked, code__in=[i.code for i in incoming])
        }
        for item in incoming:
            row = rows.get(item.code)
            if row is None:
                row = rows[item.code] = VehicleSignal(vehicle=locked, code=item.code, received_at=received_at)
            if _apply_incoming(item, row, received_at):
                changed[item.code] = row
        new = [row for row in changed.values() if row.pk is None]
        existing = [row for row in changed.values() if row.pk is not None]
        if new:
            VehicleSignal.objects.bulk_create(new)
        if existing:
            VehicleSignal.objects.bulk_update(existing, RECORDED_FIELDS)
    return RecordedSignals(changed, skipped)


# --- Display ----------------------------------------------------------------------------------------------------

VALUE_DISPLAY_LENGTH = 80


def describe_value(body: Any, max_length: int = VALUE_DISPLAY_LENGTH) -> str:
    """A stored signal body in one short line for people (admin, demo): ``{"value": 42.5, "unit": "km"}`` ->
    ``42.5 km``, ``{"value": true}`` -> ``true``, anything else as compact JSON, cut at ``max_length``."""
    if body is None:
        return ""
    if isinstance(body, dict) and set(body) <= {"value", "unit"} and "value" in body:
        value = body["value"]
        text = value if isinstance(value, str) else json.dumps(value)
        unit = body.get("unit")
        text = f"{text} {unit}" if isinstance(unit, str) and unit else text
    else:
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= max_length else text[: max_length - 1] + "…"
