"""A vehicle's live state: the stored snapshot moved on to the present.

A driving vehicle (``speed_kmh`` > 0) adds distance to its odometer, spends battery or fuel on it, and circles
its home point; a plugged-in vehicle that is charging gains charge up to its limit. Commands "settle" the state
(store the live values as the new snapshot) before they change it, so nothing jumps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

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
        if vehicle.is_electric:
            level = given(battery, "battery level")
            capacity = given(vehicle.battery_capacity_kwh, "battery capacity")
            efficiency = given(vehicle.efficiency_km_per_kwh, "efficiency")
            range_km = level * capacity * efficiency
            distance = min(distance, range_km)
            battery = max(level - distance / (capacity * efficiency), 0.0)
        else:
            level = given(fuel, "fuel level")
            capacity = given(vehicle.tank_capacity_liters, "tank capacity")
            efficiency = given(vehicle.efficiency_km_per_liter, "efficiency")
            range_km = level * capacity * efficiency
            distance = min(distance, range_km)
            fuel = max(level - distance / (capacity * efficiency), 0.0)
        odometer += distance

    if vehicle.is_electric:
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


def settle(vehicle: SimulatedVehicle, at: datetime) -> None:
    """Make the live state at ``at`` the stored snapshot (the caller saves the vehicle)."""
    state = live_state(vehicle, at)
    vehicle.odometer_km = state.odometer_km
    vehicle.battery_level = state.battery_level
    vehicle.fuel_level = state.fuel_level
    vehicle.state_at = at
