"""Smartcar's standardized signals (API V3 and webhooks v4): one builder for both.

``signal_entries(vehicle, scope, now)`` reads a vehicle's live state into every configured signal, in the
captured v4 webhook shape (``{code, name, group, body, meta: {oemUpdatedAt, retrievedAt}, status}``, times as
epoch milliseconds, percentages 0-100); a signal the grant does not permit is ``status.value`` ERROR with
``PERMISSION``/null, one the car cannot give ``COMPATIBILITY``/``VEHICLE_NOT_CAPABLE``, with no body, so reading
never fails on one signal. Webhook VEHICLE_STATE events (``webhooks``) and ``GET /v3/vehicles/{id}/signals``
(``views.vehicle_v3``, which wraps each entry as a JSON:API resource) both use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .models import Application, Grant, SimulatedVehicle
from .vehicle_state import LiveState, given, live_state, reading_time


def epoch_ms(moment: datetime) -> int:
    """Smartcar's signal and v4 webhook times: epoch milliseconds (integers)."""
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class Signal:
    """One v4 signal a webhook is configured with: its code, name and group, the permission it needs, and its
    body from a vehicle's live state (None: the vehicle cannot give it)."""

    code: str
    name: str
    group: str
    permission: str
    body: Callable[[SimulatedVehicle, LiveState], dict[str, Any] | None]

    def ref(self) -> dict[str, str]:
        return {"name": self.name, "code": self.code, "group": self.group}


Body = Callable[[SimulatedVehicle, LiveState], "dict[str, Any] | None"]


def _electric(build: Body) -> Body:
    """A battery/charge signal: given by electric cars and plug-in hybrids (which carry both kinds)."""
    return lambda vehicle, state: build(vehicle, state) if vehicle.has_battery else None


def _fuel(build: Body) -> Body:
    """A fuel/engine signal: given by fuel cars and plug-in hybrids."""
    return lambda vehicle, state: build(vehicle, state) if vehicle.has_fuel else None


def _battery_range(vehicle: SimulatedVehicle, state: LiveState) -> float:
    level = given(state.battery_level, "battery level")
    return (
        level
        * given(vehicle.battery_capacity_kwh, "battery capacity")
        * given(vehicle.efficiency_km_per_kwh, "efficiency")
    )


def _fuel_liters(vehicle: SimulatedVehicle, state: LiveState) -> float:
    return given(state.fuel_level, "fuel level") * given(vehicle.tank_capacity_liters, "tank capacity")


def _tires(vehicle: SimulatedVehicle, state: LiveState) -> dict[str, Any] | None:
    pressures = vehicle.tire_pressure_kpa or {}
    corners = (("frontLeft", 0, 0), ("frontRight", 0, 1), ("backLeft", 1, 0), ("backRight", 1, 1))
    if not all(name in pressures for name, _, _ in corners):
        return None
    # As captured [HA jaguar_ipace2]: "unit":"bar" with kPa-sized values.
    return {
        "values": [
            {"row": row, "column": column, "tirePressure": round(pressures[name], 1)}
            for name, row, column in corners
        ],
        "rowCount": 2,
        "columnCount": 2,
        "unit": "bar",
    }


def _charge_limits(vehicle: SimulatedVehicle, state: LiveState) -> dict[str, Any] | None:
    if vehicle.charge_limit is None:
        return None
    limit = round(vehicle.charge_limit * 100)
    # One GLOBAL limit; activeLimit is null while unplugged [schema].
    return {
        "values": [{"type": "GLOBAL", "limit": limit, "condition": None}],
        "activeLimit": limit if vehicle.is_plugged_in else None,
        "unit": "percent",
    }


# The signals every simulated webhook is configured with and GET /v3/vehicles/{id}/signals answers, in order.
SIGNALS: tuple[Signal, ...] = (
    Signal(
        "vehicleidentification-vin",
        "VIN",
        "VehicleIdentification",
        "read_vin",
        lambda vehicle, state: {"value": vehicle.vin},
    ),
    Signal(
        "odometer-traveleddistance",
        "TraveledDistance",
        "Odometer",
        "read_odometer",
        lambda vehicle, state: {"value": round(state.odometer_km, 1), "unit": "km"},
    ),
    Signal(
        "location-preciselocation",
        "PreciseLocation",
        "Location",
        "read_location",
        lambda vehicle, state: {
            "latitude": state.latitude,
            "longitude": state.longitude,
            "locationType": "CURRENT" if vehicle.speed_kmh > 0 else "LAST_PARKED",
        },
    ),
    Signal(
        "closure-islocked",
        "IsLocked",
        "Closure",
        "read_security",
        lambda vehicle, state: {"value": vehicle.is_locked},
    ),
    Signal(
        "tractionbattery-stateofcharge",
        "StateOfCharge",
        "TractionBattery",
        "read_battery",
        _electric(
            lambda vehicle, state: {
                "value": round(given(state.battery_level, "battery level") * 100, 1),
                "unit": "percent",
            }
        ),
    ),
    Signal(
        "tractionbattery-range",
        "Range",
        "TractionBattery",
        "read_battery",
        _electric(lambda vehicle, state: {"value": round(_battery_range(vehicle, state), 1), "unit": "km"}),
    ),
    Signal(
        "charge-ischargingcableconnected",
        "IsChargingCableConnected",
        "Charge",
        "read_charge",
        _electric(lambda vehicle, state: {"value": vehicle.is_plugged_in}),
    ),
    Signal(
        "charge-detailedchargingstatus",
        "DetailedChargingStatus",
        "Charge",
        "read_charge",
        _electric(lambda vehicle, state: {"value": state.charging_state}),
    ),
    Signal(
        "charge-ischarging",
        "IsCharging",
        "Charge",
        "read_charge",
        _electric(lambda vehicle, state: {"value": state.charging_state == "CHARGING"}),
    ),
    Signal("charge-chargelimits", "ChargeLimits", "Charge", "read_charge", _electric(_charge_limits)),
    Signal(
        "internalcombustionengine-fuellevel",
        "FuelLevel",
        "InternalCombustionEngine",
        "read_fuel",
        _fuel(
            lambda vehicle, state: {
                "value": round(given(state.fuel_level, "fuel level") * 100, 1),
                "unit": "percent",
            }
        ),
    ),
    Signal(
        "internalcombustionengine-range",
        "Range",
        "InternalCombustionEngine",
        "read_fuel",
        _fuel(
            lambda vehicle, state: {
                "value": round(
                    _fuel_liters(vehicle, state) * given(vehicle.efficiency_km_per_liter, "efficiency"), 1
                ),
                "unit": "km",
            }
        ),
    ),
    Signal(
        "internalcombustionengine-amountremaining",
        "AmountRemaining",
        "InternalCombustionEngine",
        "read_fuel",
        _fuel(lambda vehicle, state: {"value": round(_fuel_liters(vehicle, state), 1), "unit": "liters"}),
    ),
    Signal(
        "internalcombustionengine-oillife",
        "OilLife",
        "InternalCombustionEngine",
        "read_engine_oil",
        _fuel(
            lambda vehicle, state: (
                None
                if vehicle.oil_life is None
                else {"value": round(vehicle.oil_life * 100, 1), "unit": "percent"}
            )
        ),
    ),
    Signal("wheel-tires", "Tires", "Wheel", "read_tires", _tires),
)
SIGNALS_BY_CODE = {signal.code: signal for signal in SIGNALS}


def scope_of(application: Application, vehicle: SimulatedVehicle) -> list[str]:
    """What the application may read of the vehicle: the scope of its latest grant covering it."""
    grant = (
        Grant.objects.filter(application=application, vehicles=vehicle).order_by("-created_at", "-id").first()
    )
    return list(grant.scope) if grant is not None else []


def signal_entries(vehicle: SimulatedVehicle, scope: list[str], now: datetime) -> list[dict[str, Any]]:
    """Every configured signal, in the captured key orders: a value with its times and SUCCESS, or an error."""
    # A stale car (data_age_hours) last reported that many hours ago: its values are its state then, and
    # oemUpdatedAt says when, as the REST API's sc-data-age does; other cars report continuously (oemUpdatedAt
    # equals retrievedAt). Real captures show oemUpdatedAt seconds to hours before retrievedAt [HA].
    read_at = reading_time(vehicle, now)
    state = live_state(vehicle, read_at)
    stamp = epoch_ms(now)
    reported = epoch_ms(read_at)
    entries: list[dict[str, Any]] = []
    for signal in SIGNALS:
        error: dict[str, Any] | None = None
        body = None
        if signal.permission not in scope:
            error = {"type": "PERMISSION", "code": None}
        else:
            body = signal.body(vehicle, state)
            if body is None:
                error = {"type": "COMPATIBILITY", "code": "VEHICLE_NOT_CAPABLE"}
        if error is not None:
            entries.append({**signal.ref(), "status": {"value": "ERROR", "error": error}})
            continue
        # The VIN is static: captured with both times 0.
        times = (0, 0) if signal.code == "vehicleidentification-vin" else (reported, stamp)
        entries.append(
            {
                "code": signal.code,
                "name": signal.name,
                "group": signal.group,
                "body": body,
                "meta": {"oemUpdatedAt": times[0], "retrievedAt": times[1]},
                "status": {"value": "SUCCESS"},
            }
        )
    return entries
