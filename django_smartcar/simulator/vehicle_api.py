"""The vehicle endpoints of Smartcar's API: what each path needs (permission, an awake car) and answers.

Handlers take a ``VehicleCall`` and return the JSON body, or raise ``ApiError``. They know nothing of HTTP, so a
batch runs the very same handlers as single requests.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from django.db import transaction
from django.db.models import F

from . import errors
from .models import SimulatedVehicle
from .vehicle_state import LiveState, given, is_sleeping, live_state, reading_time, settle

KM_PER_MILE = 1.609344
PSI_PER_KPA = 0.1450377
GALLONS_PER_LITER = 0.264172
UNIT_SYSTEMS = ("metric", "imperial")
CHARGE_LIMIT_RANGE = (0.5, 1.0)

COMMAND_ACCEPTED = {"status": "success", "message": "Successfully sent request to vehicle"}


@dataclass
class VehicleCall:
    vehicle: SimulatedVehicle
    unit_system: str
    now: datetime
    body: Any = None
    query: Mapping[str, str] = field(default_factory=dict)

    @property
    def read_at(self) -> datetime:
        """When the car last reported: now, or ``data_age_hours`` ago for a car whose data is stale."""
        return reading_time(self.vehicle, self.now)

    @property
    def state(self) -> LiveState:
        return live_state(self.vehicle, self.read_at)

    @property
    def imperial(self) -> bool:
        return self.unit_system == "imperial"

    def distance(self, km: float) -> float:
        return round(km / KM_PER_MILE if self.imperial else km, 1)


@dataclass(frozen=True)
class Endpoint:
    handler: Callable[[VehicleCall], Any]
    permission: str | None
    # Reads or commands the car itself, so it fails while the car sleeps and its answer has a data age.
    reaches_car: bool = True


def require_electric(call: VehicleCall) -> None:
    """A battery to report: electric vehicles and plug-in hybrids."""
    if not call.vehicle.has_battery:
        raise errors.vehicle_not_capable(
            "This vehicle is not electric: it has no battery or charging to report."
        )


def require_fuel(call: VehicleCall) -> None:
    """A fuel tank and an engine: fuel vehicles and plug-in hybrids."""
    if not call.vehicle.has_fuel:
        raise errors.vehicle_not_capable("This vehicle is electric: it has no fuel tank or engine oil.")


def require_make(call: VehicleCall, makes: frozenset[str], what: str) -> None:
    """Endpoints Smartcar offers for some brands only answer COMPATIBILITY/SMARTCAR_NOT_CAPABLE for the others."""
    if call.vehicle.make.upper() not in makes:
        raise errors.ApiError(
            501,
            "COMPATIBILITY",
            "SMARTCAR_NOT_CAPABLE",
            f"Smartcar does not support {what} for {call.vehicle.make} vehicles yet.",
        )


def attributes(call: VehicleCall) -> dict[str, Any]:
    vehicle = call.vehicle
    return {"id": vehicle.id, "make": vehicle.make, "model": vehicle.model, "year": vehicle.year}


def vin(call: VehicleCall) -> dict[str, Any]:
    return {"vin": call.vehicle.vin}


def location(call: VehicleCall) -> dict[str, Any]:
    state = call.state
    return {"latitude": state.latitude, "longitude": state.longitude}


def odometer(call: VehicleCall) -> dict[str, Any]:
    return {"distance": call.distance(call.state.odometer_km)}


def fuel(call: VehicleCall) -> dict[str, Any]:
    require_fuel(call)
    vehicle, level = call.vehicle, given(call.state.fuel_level, "fuel level")
    liters = level * given(vehicle.tank_capacity_liters, "tank capacity")
    return {
        "range": call.distance(liters * given(vehicle.efficiency_km_per_liter, "efficiency")),
        "percentRemaining": round(level, 3),
        "amountRemaining": round(liters * GALLONS_PER_LITER if call.imperial else liters, 1),
    }


def battery(call: VehicleCall) -> dict[str, Any]:
    require_electric(call)
    vehicle, level = call.vehicle, given(call.state.battery_level, "battery level")
    capacity = given(vehicle.battery_capacity_kwh, "battery capacity")
    return {
        "range": call.distance(level * capacity * given(vehicle.efficiency_km_per_kwh, "efficiency")),
        "percentRemaining": round(level, 3),
    }


def battery_capacity(call: VehicleCall) -> dict[str, Any]:
    require_electric(call)
    return {"capacity": call.vehicle.battery_capacity_kwh}


def charge_status(call: VehicleCall) -> dict[str, Any]:
    require_electric(call)
    return {"isPluggedIn": call.vehicle.is_plugged_in, "state": call.state.charging_state}


def charge_limit(call: VehicleCall) -> dict[str, Any]:
    require_electric(call)
    return {"limit": call.vehicle.charge_limit}


def engine_oil(call: VehicleCall) -> dict[str, Any]:
    require_fuel(call)
    return {"lifeRemaining": call.vehicle.oil_life}


def tire_pressure(call: VehicleCall) -> dict[str, Any]:
    pressures = call.vehicle.tire_pressure_kpa
    factor = PSI_PER_KPA if call.imperial else 1.0
    return {
        name: round(pressures[name] * factor, 1)
        for name in ("frontLeft", "frontRight", "backLeft", "backRight")
    }


def lock_status(call: VehicleCall) -> dict[str, Any]:
    vehicle = call.vehicle
    lock = "LOCKED" if vehicle.is_locked else "UNLOCKED"
    corners = ("frontLeft", "frontRight", "backLeft", "backRight")
    storage = [{"type": "rear", "status": "CLOSED"}]
    if vehicle.is_electric:
        storage.append({"type": "front", "status": "CLOSED"})
    return {
        "isLocked": vehicle.is_locked,
        "doors": [{"type": corner, "status": lock} for corner in corners],
        "windows": [{"type": corner, "status": "CLOSED"} for corner in corners],
        "sunroof": [{"type": "sunroof", "status": "CLOSED"}],
        "storage": storage,
        "chargingPort": [{"type": "chargingPort", "status": "CLOSED"}] if vehicle.has_battery else [],
    }


def body_field(call: VehicleCall, name: str) -> Any:
    if not isinstance(call.body, dict) or name not in call.body:
        raise errors.validation_error(f"The request body must be a JSON object with a '{name}' field.", name)
    return call.body[name]


def number_field(call: VehicleCall, name: str, low: float, high: float) -> float:
    """A number in the body, from ``low`` to ``high``. Smartcar also takes it written as a string (``"0.8"``),
    as clients that send form-like values do; booleans, NaN and infinities are refused."""
    value = body_field(call, name)
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or not low <= number <= high:
        raise errors.validation_error(f"{name} must be a number between {low:g} and {high:g}.", name)
    return number


def change_vehicle(call: VehicleCall, change: Callable[[SimulatedVehicle], None]) -> None:
    """Apply ``change`` to the stored vehicle under a row lock, after settling its state to now.

    Webhooks whose triggers include a signal the change changed get a VEHICLE_STATE queued (``webhooks``).
    """
    from . import webhooks  # webhooks builds its v2 payloads with this module's batch

    with transaction.atomic():
        # An empty write first takes SQLite's write lock at once (select_for_update is a no-op there), so
        # concurrent commands queue instead of failing; on PostgreSQL the row lock does the same.
        SimulatedVehicle.objects.filter(pk=call.vehicle.pk).update(state_at=F("state_at"))
        vehicle = SimulatedVehicle.objects.select_for_update().get(pk=call.vehicle.pk)
        settle(vehicle, call.now)
        watched = webhooks.has_triggered_subscriptions(vehicle)
        before = webhooks.signal_bodies(vehicle, call.now) if watched else {}
        change(vehicle)
        vehicle.save()
        if watched:
            after = webhooks.signal_bodies(vehicle, call.now)
            webhooks.signals_changed(vehicle, [code for code in after if after[code] != before.get(code)])
    call.vehicle = vehicle


def security_command(call: VehicleCall) -> dict[str, Any]:
    action = body_field(call, "action")
    if action not in ("LOCK", "UNLOCK"):
        raise errors.validation_error("action must be LOCK or UNLOCK.", "action")

    def set_lock(vehicle: SimulatedVehicle) -> None:
        vehicle.is_locked = action == "LOCK"

    change_vehicle(call, set_lock)
    return dict(COMMAND_ACCEPTED)


def charge_command(call: VehicleCall) -> dict[str, Any]:
    require_electric(call)
    action = body_field(call, "action")
    if action not in ("START", "STOP"):
        raise errors.validation_error("action must be START or STOP.", "action")
    if action == "START" and not call.vehicle.is_plugged_in:
        raise errors.vehicle_state_error(
            "CHARGING_PLUG_NOT_CONNECTED",
            "The vehicle is not connected to an EV charger and unable to perform your request.",
        )

    def set_charging(vehicle: SimulatedVehicle) -> None:
        vehicle.is_charging = action == "START"

    change_vehicle(call, set_charging)
    return dict(COMMAND_ACCEPTED)


def set_charge_limit(call: VehicleCall) -> dict[str, Any]:
    require_electric(call)
    # v2 takes a fraction, 0.5 to 1 only [A/evs/set-charge-limit].
    limit = number_field(call, "limit", *CHARGE_LIMIT_RANGE)

    def set_limit(vehicle: SimulatedVehicle) -> None:
        vehicle.charge_limit = limit

    change_vehicle(call, set_limit)
    return dict(COMMAND_ACCEPTED)


def send_destination(call: VehicleCall) -> dict[str, Any]:
    number_field(call, "latitude", -90, 90)
    number_field(call, "longitude", -180, 180)
    return dict(COMMAND_ACCEPTED)


# Brands each SDK 6.x extra endpoint supports, per Smartcar's API reference (A/get-service-records,
# A/get-dtcs, A/get-system-status); the others answer COMPATIBILITY/SMARTCAR_NOT_CAPABLE.
SERVICE_HISTORY_MAKES = frozenset({"FORD", "LINCOLN", "TOYOTA", "LEXUS", "MAZDA", "VOLKSWAGEN"})
DTC_MAKES = frozenset({"CHEVROLET", "GMC"})
SYSTEM_STATUS_MAKES = frozenset(
    {"CHEVROLET", "GMC", "BUICK", "CADILLAC", "JEEP", "RAM", "CHRYSLER", "DODGE", "FIAT", "ALFA ROMEO"}
)
# The bare path of each such endpoint and the makes it is offered for (the compatibility API reports the others).
MAKE_LIMITED_PATHS: dict[str, frozenset[str]] = {
    "/service/history": SERVICE_HISTORY_MAKES,
    "/diagnostics/dtcs": DTC_MAKES,
    "/diagnostics/system_status": SYSTEM_STATUS_MAKES,
}
SERVICE_TASKS = ("Oil and filter change", "Tire rotation", "Brake inspection", "Cabin air filter", None)
TROUBLE_CODES = ("P0420", "P0171", "P0300", "P0128", "P302D", "C0035", "U0100", "B1325")
DIAGNOSTIC_SYSTEMS = ("SYSTEM_AIRBAG", "SYSTEM_ABS", "SYSTEM_MIL", "SYSTEM_OIL_LIFE", "SYSTEM_TPMS")
KM_PER_YEAR = 15_000.0
LOW_TIRE_KPA = 200.0


def vehicle_random(call: VehicleCall, what: str) -> random.Random:
    """The same draws for the same car every time: its records are facts about it, not noise."""
    return random.Random(f"{what}:{call.vehicle.pk}")


def parse_date_parameter(call: VehicleCall, name: str) -> datetime | None:
    raw = call.query.get(name)
    if not raw:
        return None
    text = raw.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=timezone.utc)
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise errors.validation_error(f"{name} must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS.SSSZ.", name)
    return parsed


def service_history(call: VehicleCall) -> Any:
    """The dealer's service records (an array), by default those of the last year; startDate/endDate filter."""
    require_make(call, SERVICE_HISTORY_MAKES, "service history")
    start = parse_date_parameter(call, "startDate")
    end = parse_date_parameter(call, "endDate")
    if start is None and end is None:
        start = call.read_at - timedelta(days=365)
    rng = vehicle_random(call, "service")
    interval = rng.uniform(12_000, 16_000)
    odometer = call.state.odometer_km
    records: list[tuple[datetime, dict[str, Any]]] = []
    distance = interval
    while distance < odometer:
        served = call.read_at - timedelta(days=365 * (odometer - distance) / KM_PER_YEAR)
        tasks = [
            {"taskId": str(rng.randrange(1000, 9999)), "taskDescription": rng.choice(SERVICE_TASKS)}
            for _ in range(rng.randint(1, 3))
        ]
        cost = round(rng.uniform(80, 450), 2) if rng.random() < 0.6 else None
        records.append(
            (
                served,
                {
                    "serviceId": str(rng.randrange(10**8)) if rng.random() < 0.5 else None,
                    "serviceDate": iso(served),
                    "odometerDistance": round(distance, 2),
                    "serviceTasks": tasks,
                    "serviceDetails": [{"type": "DEALERSHIP", "value": None}],
                    "serviceCost": {"totalCost": cost, "currency": "USD" if cost is not None else None},
                },
            )
        )
        distance += interval
    return [
        record
        for served, record in records
        if (start is None or served >= start) and (end is None or served <= end)
    ]


def active_trouble_codes(call: VehicleCall) -> list[dict[str, Any]]:
    """About one car in three reports one or two codes, each active since some days before its reading."""
    rng = vehicle_random(call, "dtc")
    if rng.random() >= 0.35:
        return []
    codes = rng.sample(TROUBLE_CODES, rng.randint(1, 2))
    day = call.read_at.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return [{"code": code, "timestamp": iso(day - timedelta(days=rng.randint(1, 60)))} for code in codes]


def diagnostic_trouble_codes(call: VehicleCall) -> dict[str, Any]:
    require_make(call, DTC_MAKES, "diagnostic trouble codes")
    return {"activeCodes": active_trouble_codes(call)}


def system_status(call: VehicleCall) -> dict[str, Any]:
    """Each system OK or ALERT, consistent with the car: the MIL with its engine codes, TPMS with a low tire,
    oil life below 15 %."""
    require_make(call, SYSTEM_STATUS_MAKES, "system status")
    vehicle = call.vehicle
    engine_codes = [item["code"] for item in active_trouble_codes(call) if item["code"].startswith("P")]
    low_tires = [name for name, kpa in vehicle.tire_pressure_kpa.items() if kpa < LOW_TIRE_KPA]
    alerts = {
        "SYSTEM_MIL": f"Engine trouble codes {', '.join(engine_codes)}" if engine_codes else None,
        "SYSTEM_TPMS": f"Low pressure: {', '.join(low_tires)}" if low_tires else None,
        "SYSTEM_OIL_LIFE": "Oil change due"
        if vehicle.has_fuel and vehicle.oil_life is not None and vehicle.oil_life < 0.15
        else None,
    }
    systems = []
    for system in DIAGNOSTIC_SYSTEMS:
        if system == "SYSTEM_OIL_LIFE" and not vehicle.has_fuel:
            continue
        alert = alerts.get(system)
        systems.append({"systemId": system, "status": "ALERT" if alert else "OK", "description": alert})
    return {"systems": systems}


def nominal_capacity(call: VehicleCall) -> dict[str, Any]:
    """Smartcar's rated capacity for the model (its "Case 1": determined by Smartcar, so no selection URL)."""
    require_electric(call)
    capacity = given(call.vehicle.battery_capacity_kwh, "battery capacity")
    return {
        "availableCapacities": [{"capacity": capacity, "description": None}],
        "capacity": {"nominal": capacity, "source": "SMARTCAR"},
        "url": None,
    }


# (method, path below /vehicles/{id}, without slashes) -> endpoint. Batch may use any GET here.
ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("GET", ""): Endpoint(attributes, "read_vehicle_info", reaches_car=False),
    ("GET", "vin"): Endpoint(vin, "read_vin", reaches_car=False),
    ("GET", "location"): Endpoint(location, "read_location"),
    ("GET", "odometer"): Endpoint(odometer, "read_odometer"),
    ("GET", "fuel"): Endpoint(fuel, "read_fuel"),
    ("GET", "battery"): Endpoint(battery, "read_battery"),
    ("GET", "battery/capacity"): Endpoint(battery_capacity, "read_battery"),
    ("GET", "charge"): Endpoint(charge_status, "read_charge"),
    ("POST", "charge"): Endpoint(charge_command, "control_charge"),
    ("GET", "charge/limit"): Endpoint(charge_limit, "read_charge"),
    ("POST", "charge/limit"): Endpoint(set_charge_limit, "control_charge"),
    ("GET", "engine/oil"): Endpoint(engine_oil, "read_engine_oil"),
    ("GET", "tires/pressure"): Endpoint(tire_pressure, "read_tires"),
    ("GET", "security"): Endpoint(lock_status, "read_security"),
    ("POST", "security"): Endpoint(security_command, "control_security"),
    ("POST", "navigation/destination"): Endpoint(send_destination, "control_navigation"),
    # The official SDK 6.x's further reads. Nominal capacity and service records are Smartcar's and the
    # dealer's records, not the car's: they answer while it sleeps.
    ("GET", "battery/nominal_capacity"): Endpoint(nominal_capacity, "read_battery", reaches_car=False),
    ("GET", "service/history"): Endpoint(service_history, "read_service_history", reaches_car=False),
    ("GET", "diagnostics/dtcs"): Endpoint(diagnostic_trouble_codes, "read_diagnostics"),
    ("GET", "diagnostics/system_status"): Endpoint(system_status, "read_diagnostics"),
}

# The endpoint each permission opens, as the compatibility API reports it.
PERMISSION_ENDPOINTS: dict[str, tuple[str, str]] = {
    endpoint.permission: (method, f"/{path}")
    for (method, path), endpoint in reversed(list(ENDPOINTS.items()))
    if endpoint.permission
}
# Permissions a powertrain cannot serve (checked by the compatibility API).
ELECTRIC_ONLY = frozenset({"read_battery", "read_charge", "control_charge"})
FUEL_ONLY = frozenset({"read_fuel", "read_engine_oil"})


def run(endpoint: Endpoint, call: VehicleCall, scope: list[str], *, asleep: bool) -> Any:
    """Check permission and wakefulness (an ``asleep`` fault, or a car that sleeps now), then answer.

    Raises ApiError."""
    if endpoint.permission and endpoint.permission not in scope:
        raise errors.permission_error(endpoint.permission)
    if endpoint.reaches_car and (asleep or is_sleeping(call.vehicle, call.now)):
        raise errors.vehicle_state_error(
            "ASLEEP", "The vehicle is in a sleep state and temporarily unable to perform your request."
        )
    return endpoint.handler(call)


def iso(moment: datetime) -> str:
    """Smartcar's timestamps: UTC with milliseconds and a Z."""
    return (
        moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def data_headers(call: VehicleCall) -> dict[str, str]:
    """sc-data-age: when the car reported the data (hours ago for a stale car); sc-fetched-at: when Smartcar
    answered."""
    return {
        "sc-data-age": iso(call.read_at),
        "sc-unit-system": call.unit_system,
        "sc-fetched-at": iso(call.now),
    }


def batch(
    vehicle: SimulatedVehicle,
    requests: Any,
    *,
    unit_system: str,
    now: datetime,
    scope: list[str],
    asleep: bool,
    request_id: str,
) -> dict[str, Any]:
    """Answer a batch body: each item is a GET answered as on its own, errors included."""
    if (
        not isinstance(requests, list)
        or not requests
        or not all(isinstance(item, dict) and isinstance(item.get("path"), str) for item in requests)
    ):
        raise errors.validation_error(
            'The body must be {"requests": [{"path": "/odometer"}, ...]} with at least one path.', "requests"
        )
    # One unknown path rejects the whole batch with a 400, before any item is answered (S7.5: smartcar/
    # python-sdk tests/e2e/test_vehicle.py test_batch_misspelled_permission); paths outside the granted scope
    # fail one by one below, as a 403 item inside the 200.
    unknown = [item["path"] for item in requests if ("GET", item["path"].strip("/")) not in ENDPOINTS]
    if unknown:
        raise errors.validation_error(
            f"Invalid path(s) in the batch request: {', '.join(unknown)}.", "requests"
        )
    responses = []
    for item in requests:
        path = item["path"]
        call = VehicleCall(vehicle=vehicle, unit_system=unit_system, now=now)
        endpoint = ENDPOINTS[("GET", path.strip("/"))]
        try:
            body = run(endpoint, call, scope, asleep=asleep)
        except errors.ApiError as error:
            headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}
            responses.append(
                {"path": path, "code": error.status, "headers": headers, "body": error.body(request_id)}
            )
            continue
        headers = data_headers(call) if endpoint.reaches_car else {"sc-unit-system": unit_system}
        responses.append({"path": path, "code": 200, "headers": headers, "body": body})
    return {"responses": responses}
