"""A vehicle's live state: the stored snapshot moved on to the present.

A driving vehicle (``speed_kmh`` > 0) adds distance to its odometer, spends battery or fuel on it, and circles
its home point; a plugged-in vehicle that is charging gains charge up to its limit. Commands "settle" the state
(store the live values as the new snapshot) before they change it, so nothing jumps.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from .models import SimulatedVehicle

# Radius of the circle a driving vehicle follows around its home point.
ROUTE_RADIUS_KM = 5.0
KM_PER_DEGREE_LATITUDE = 111.32


@dataclass(frozen=True)
class LiveState:
    odometer_km: float
    latitude: float
    longitude: float
    battery_level: float | None
    fuel_level: float | None
    charging_state: str | None  # CHARGING, FULLY_CHARGED or NOT_CHARGING; None for fuel vehicles


def position(vehicle: SimulatedVehicle, odometer_km: float) -> tuple[float, float]:
    """Where on its circle a vehicle is, given how far it has driven in total."""
    angle = odometer_km / ROUTE_RADIUS_KM
    latitude = vehicle.home_latitude + ROUTE_RADIUS_KM * math.sin(angle) / KM_PER_DEGREE_LATITUDE
    km_per_degree_longitude = KM_PER_DEGREE_LATITUDE * max(
        math.cos(math.radians(vehicle.home_latitude)), 0.01
    )
    longitude = vehicle.home_longitude + ROUTE_RADIUS_KM * math.cos(angle) / km_per_degree_longitude
    return round(latitude, 6), round(longitude, 6)


def given(value: float | None, what: str) -> float:
    """A parameter of the vehicle's powertrain: seeding sets every battery one on an electric vehicle and every
    fuel one on the others, so None here is a broken row (the columns are nullable for the other kind)."""
    if value is None:
        raise ValueError(f"This simulated vehicle has no {what}.")
    return value


def live_state(vehicle: SimulatedVehicle, at: datetime) -> LiveState:
    hours = max((at - vehicle.state_at).total_seconds(), 0.0) / 3600
    odometer = vehicle.odometer_km
    battery = vehicle.battery_level
    fuel = vehicle.fuel_level
    charging_state = None

    if vehicle.speed_kmh > 0:
        distance = vehicle.speed_kmh * hours
        driven = 0.0
        if vehicle.has_battery:
            # A plug-in hybrid drives on its battery first, then on fuel.
            level = given(battery, "battery level")
            per_unit = given(vehicle.battery_capacity_kwh, "battery capacity") * given(
                vehicle.efficiency_km_per_kwh, "efficiency"
            )
            on_battery = min(distance, level * per_unit)
            battery = max(level - on_battery / per_unit, 0.0)
            driven += on_battery
        if vehicle.has_fuel:
            level = given(fuel, "fuel level")
            per_unit = given(vehicle.tank_capacity_liters, "tank capacity") * given(
                vehicle.efficiency_km_per_liter, "efficiency"
            )
            on_fuel = min(distance - driven, level * per_unit)
            fuel = max(level - on_fuel / per_unit, 0.0)
            driven += on_fuel
        odometer += driven

    if vehicle.has_battery:
        level = given(battery, "battery level")
        charging = vehicle.is_plugged_in and vehicle.is_charging and vehicle.speed_kmh == 0
        if charging and level < (limit := given(vehicle.charge_limit, "charge limit")):
            rate = given(vehicle.charge_rate_kw, "charge rate")
            level = min(level + rate * hours / given(vehicle.battery_capacity_kwh, "battery capacity"), limit)
        if vehicle.is_plugged_in and level >= given(vehicle.charge_limit, "charge limit"):
            charging_state = "FULLY_CHARGED"
        elif charging:
            charging_state = "CHARGING"
        else:
            charging_state = "NOT_CHARGING"
        battery = level

    latitude, longitude = position(vehicle, odometer)
    return LiveState(
        odometer_km=odometer,
        latitude=latitude,
        longitude=longitude,
        battery_level=battery,
        fuel_level=fuel,
        charging_state=charging_state,
    )


def reading_time(vehicle: SimulatedVehicle, now: datetime) -> datetime:
    """When the car last reported: ``now`` for most cars, ``data_age_hours`` earlier for a stale one."""
    return now - timedelta(hours=max(vehicle.data_age_hours or 0.0, 0.0))


def sleep_phase_offset(vehicle: SimulatedVehicle, cycle_seconds: int) -> int:
    """Where in its sleep cycle a car starts: from its id, so cars do not all fall asleep together."""
    return int.from_bytes(hashlib.sha256(vehicle.pk.encode()).digest()[:8], "big") % cycle_seconds


def is_sleeping(vehicle: SimulatedVehicle, now: datetime) -> bool:
    """Whether a car that sleeps is asleep at ``now``.

    The wake-up rules: a car with ``awake_minutes`` and ``asleep_minutes`` is awake for the first, then asleep
    for the second, in a cycle on the simulator's clock; a car that is driving, or charging, is always awake.
    Requests do not wake it (Smartcar answers VEHICLE_STATE/ASLEEP and says to retry later).
    """
    if not vehicle.awake_minutes or not vehicle.asleep_minutes:
        return False
    if vehicle.speed_kmh > 0 or (vehicle.has_battery and vehicle.is_plugged_in and vehicle.is_charging):
        return False
    cycle = (vehicle.awake_minutes + vehicle.asleep_minutes) * 60
    position_in_cycle = (int(now.timestamp()) + sleep_phase_offset(vehicle, cycle)) % cycle
    return position_in_cycle >= vehicle.awake_minutes * 60


def settle(vehicle: SimulatedVehicle, at: datetime) -> None:
    """Make the live state at ``at`` the stored snapshot (the caller saves the vehicle)."""
    state = live_state(vehicle, at)
    vehicle.odometer_km = state.odometer_km
    vehicle.battery_level = state.battery_level
    vehicle.fuel_level = state.fuel_level
    vehicle.state_at = at
