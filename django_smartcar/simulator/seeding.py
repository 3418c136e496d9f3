"""Create the simulator's applications, users and vehicles from Python (tests, demos, the seed command).

Seeding is deterministic: ``seed_vehicles(3, seed=7, email=...)`` makes the same vehicles (ids, VINs, makes,
models and values) every time, and running it twice returns the existing vehicles instead of duplicating them.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from . import clock
from .grants import connect_vehicles
from .models import Application, Powertrain, SimulatedUser, SimulatedVehicle
from .tokens import digest

# Fixed namespace so that a user's id follows from their email alone.
USER_ID_NAMESPACE = uuid.UUID("6f1c9d0e-3a52-4c7e-9a43-51d4b0a0c001")


@dataclass(frozen=True)
class CatalogueModel:
    make: str
    model: str
    powertrain: str
    wmi: str
    # EV: battery kWh and km per kWh; fuel: tank litres and km per litre.
    capacity: float
    efficiency: float


CATALOGUE: tuple[CatalogueModel, ...] = (
    CatalogueModel("TESLA", "Model 3", Powertrain.ELECTRIC, "5YJ", 75.0, 6.5),
    CatalogueModel("TESLA", "Model Y", Powertrain.ELECTRIC, "7SA", 78.0, 6.0),
    CatalogueModel("NISSAN", "LEAF", Powertrain.ELECTRIC, "1N4", 40.0, 6.2),
    CatalogueModel("CHEVROLET", "Bolt EV", Powertrain.ELECTRIC, "1G1", 65.0, 6.4),
    CatalogueModel("FORD", "Mustang Mach-E", Powertrain.ELECTRIC, "3FM", 88.0, 5.3),
    CatalogueModel("HYUNDAI", "IONIQ 5", Powertrain.ELECTRIC, "KM8", 77.4, 5.6),
    CatalogueModel("VOLKSWAGEN", "ID.4", Powertrain.ELECTRIC, "WVG", 82.0, 5.4),
    CatalogueModel("TOYOTA", "Camry", Powertrain.FUEL, "4T1", 60.0, 14.0),
    CatalogueModel("HONDA", "Civic", Powertrain.FUEL, "2HG", 47.0, 15.5),
    CatalogueModel("FORD", "F-150", Powertrain.FUEL, "1FT", 98.0, 8.5),
    CatalogueModel("BMW", "330i", Powertrain.FUEL, "WBA", 59.0, 12.5),
    CatalogueModel("VOLKSWAGEN", "Golf", Powertrain.FUEL, "WVW", 50.0, 15.0),
    CatalogueModel("JEEP", "Wrangler", Powertrain.FUEL, "1C4", 81.0, 8.0),
)

# Plug-in hybrids: a battery (kWh, km per kWh) and a tank (litres, km per litre). Drawn only when asked for
# (``powertrain="PHEV"``) or as a seeded car's trait, so the draws from CATALOGUE stay what they were.
HYBRIDS: tuple[tuple[CatalogueModel, CatalogueModel], ...] = (
    (
        CatalogueModel("TOYOTA", "RAV4 Prime", Powertrain.PLUG_IN_HYBRID, "JTM", 18.1, 5.0),
        CatalogueModel("TOYOTA", "RAV4 Prime", Powertrain.PLUG_IN_HYBRID, "JTM", 55.0, 16.0),
    ),
    (
        CatalogueModel("FORD", "Escape Plug-In Hybrid", Powertrain.PLUG_IN_HYBRID, "1FM", 14.4, 4.8),
        CatalogueModel("FORD", "Escape Plug-In Hybrid", Powertrain.PLUG_IN_HYBRID, "1FM", 42.0, 17.0),
    ),
    (
        CatalogueModel("JEEP", "Wrangler 4xe", Powertrain.PLUG_IN_HYBRID, "1C4", 17.3, 3.5),
        CatalogueModel("JEEP", "Wrangler 4xe", Powertrain.PLUG_IN_HYBRID, "1C4", 65.0, 8.5),
    ),
)

MAKES: tuple[str, ...] = tuple(sorted({entry.make for entry in CATALOGUE}))

# Share of seeded cars given each trait when traits are on (SMARTCAR_SIMULATOR["SEED_TRAITS"]: off by default
# where the simulator is mounted in a project, whose tests expect the cars they seed to answer; on by default in
# the standalone simulator, ``--no-traits`` turns them off).
HYBRID_SHARE = 1 / 6
STALE_SHARE = 1 / 6
SLEEPER_SHARE = 1 / 5
STALE_HOURS = (6.0, 26.0, 72.0)

# Home areas vehicles are seeded around (latitude, longitude).
CITIES: tuple[tuple[float, float], ...] = (
    (37.7749, -122.4194),  # San Francisco
    (40.7128, -74.0060),  # New York
    (47.6062, -122.3321),  # Seattle
    (42.3601, -71.0589),  # Boston
    (52.5200, 13.4050),  # Berlin
    (48.8566, 2.3522),  # Paris
)

VIN_CHARACTERS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
VIN_TRANSLITERATION = {
    **{str(digit): digit for digit in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"  # 2010 is A, repeating every 30 years


def vin_check_digit(vin: str) -> str:
    """The ninth character of a North American VIN, computed from the other sixteen."""
    total = sum(VIN_TRANSLITERATION[char] * weight for char, weight in zip(vin, VIN_WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def make_vin(rng: random.Random, wmi: str, year: int) -> str:
    descriptor = "".join(rng.choice(VIN_CHARACTERS) for _ in range(5))
    year_code = VIN_YEAR_CODES[(year - 2010) % 30]
    plant = rng.choice(VIN_CHARACTERS)
    serial = f"{rng.randrange(1_000_000):06d}"
    draft = f"{wmi}{descriptor}0{year_code}{plant}{serial}"
    return draft[:8] + vin_check_digit(draft) + draft[9:]


def make_for_vin(vin: str) -> str | None:
    """The simulator's make for a VIN's manufacturer code, or None when the simulator does not know it."""
    for entry in (*CATALOGUE, *(battery for battery, _ in HYBRIDS)):
        if vin.upper().startswith(entry.wmi):
            return entry.make
    return None


def register_application(
    client_id: str,
    client_secret: str,
    redirect_uris: Iterable[str],
    *,
    management_token: str | None = None,
    name: str = "Simulated application",
    api_client_id: str | None = None,
    api_client_secret: str | None = None,
) -> Application:
    """Register (or update) an application; its management token is generated unless given.

    ``api_client_id`` and ``api_client_secret`` are its API V3 credentials (the client-credentials grant of
    ``/oauth2/token``); without them the application has none and cannot get an application token.
    """
    if (api_client_id is None) != (api_client_secret is None):
        raise ValueError("Give both api_client_id and api_client_secret, or neither.")
    defaults: dict[str, Any] = {
        "client_secret_hash": digest(client_secret),
        "management_token": management_token or secrets.token_hex(16),
        "name": name,
        "redirect_uris": list(redirect_uris),
    }
    if api_client_id is not None and api_client_secret is not None:
        defaults["api_client_id"] = api_client_id
        defaults["api_client_secret_hash"] = digest(api_client_secret)
    application, _ = Application.objects.update_or_create(client_id=client_id, defaults=defaults)
    return application


def create_user(email: str) -> SimulatedUser:
    """The user who signs in to Connect with this email (created once; the id follows from the email)."""
    email = email.strip().lower()
    user, _ = SimulatedUser.objects.get_or_create(
        email=email, defaults={"id": str(uuid.uuid5(USER_ID_NAMESPACE, email))}
    )
    return user


def random_vehicle_attributes(
    rng: random.Random, *, make: str | None = None, powertrain: str | None = None
) -> dict[str, Any]:
    """Plausible attributes for one vehicle, all drawn from ``rng`` (optionally of a make or powertrain)."""
    if powertrain == Powertrain.PLUG_IN_HYBRID:
        return hybrid_attributes(rng, make=make)
    choices = [
        entry
        for entry in CATALOGUE
        if (make is None or entry.make == make.upper())
        and (powertrain is None or entry.powertrain == powertrain)
    ]
    if not choices:
        raise ValueError(f"The simulator has no {powertrain or ''} vehicles of make {make!r}; makes: {MAKES}")
    entry = rng.choice(choices)
    year = rng.randrange(2017, 2025)
    latitude, longitude = rng.choice(CITIES)
    attributes: dict[str, Any] = {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "make": entry.make,
        "model": entry.model,
        "year": year,
        "vin": make_vin(rng, entry.wmi, year),
        "powertrain": entry.powertrain,
        "home_latitude": round(latitude + rng.uniform(-0.05, 0.05), 6),
        "home_longitude": round(longitude + rng.uniform(-0.05, 0.05), 6),
        "odometer_km": round(rng.uniform(1_000, 90_000), 1),
        # About one vehicle in four is out on the road.
        "speed_kmh": round(rng.uniform(25, 90), 1) if rng.random() < 0.25 else 0.0,
        "tire_pressure_kpa": {
            "frontLeft": round(rng.uniform(220, 250), 1),
            "frontRight": round(rng.uniform(220, 250), 1),
            "backLeft": round(rng.uniform(220, 250), 1),
            "backRight": round(rng.uniform(220, 250), 1),
        },
        "is_locked": rng.random() < 0.7,
    }
    if entry.powertrain == Powertrain.ELECTRIC:
        plugged_in = attributes["speed_kmh"] == 0 and rng.random() < 0.5
        attributes.update(
            battery_level=round(rng.uniform(0.2, 0.9), 3),
            battery_capacity_kwh=entry.capacity,
            efficiency_km_per_kwh=entry.efficiency,
            is_plugged_in=plugged_in,
            is_charging=plugged_in and rng.random() < 0.6,
            charge_rate_kw=rng.choice((7.2, 11.0, 50.0)),
            charge_limit=rng.choice((0.8, 0.9, 1.0)),
        )
    else:
        attributes.update(
            fuel_level=round(rng.uniform(0.15, 0.95), 3),
            tank_capacity_liters=entry.capacity,
            efficiency_km_per_liter=entry.efficiency,
            oil_life=round(rng.uniform(0.1, 1.0), 2),
        )
    return attributes


def hybrid_attributes(rng: random.Random, *, make: str | None = None) -> dict[str, Any]:
    """A plug-in hybrid: a fuel car's attributes plus a battery that charges and is spent first."""
    choices = [pair for pair in HYBRIDS if make is None or pair[0].make == make.upper()]
    if not choices:
        raise ValueError(f"The simulator has no plug-in hybrids of make {make!r}")
    battery, tank = rng.choice(choices)
    attributes = random_vehicle_attributes(rng, make=battery.make)
    attributes.pop("battery_level", None)
    plugged_in = attributes["speed_kmh"] == 0 and rng.random() < 0.5
    attributes.update(
        make=battery.make,
        model=battery.model,
        vin=make_vin(rng, battery.wmi, attributes["year"]),
        powertrain=Powertrain.PLUG_IN_HYBRID,
        battery_level=round(rng.uniform(0.1, 0.9), 3),
        battery_capacity_kwh=battery.capacity,
        efficiency_km_per_kwh=battery.efficiency,
        is_plugged_in=plugged_in,
        is_charging=plugged_in and rng.random() < 0.6,
        charge_rate_kw=rng.choice((3.3, 6.6, 7.2)),
        charge_limit=1.0,
        fuel_level=round(rng.uniform(0.15, 0.95), 3),
        tank_capacity_liters=tank.capacity,
        efficiency_km_per_liter=tank.efficiency,
        oil_life=round(rng.uniform(0.1, 1.0), 2),
    )
    return attributes


def seed_traits_enabled() -> bool:
    from .faults import simulator_settings

    return bool(simulator_settings().get("SEED_TRAITS", False))


def with_traits(attributes: dict[str, Any]) -> dict[str, Any]:
    """Give some seeded cars what real fleets have: a plug-in hybrid, data hours old, a car that sleeps.

    Drawn from the car's id, apart from the draws that made it, so the same seed gives the same fleet.
    """
    rng = random.Random(f"traits:{attributes['id']}")
    same_make = any(battery.make == attributes["make"] for battery, _ in HYBRIDS)
    if rng.random() < HYBRID_SHARE and attributes["powertrain"] == Powertrain.FUEL and same_make:
        hybrid = hybrid_attributes(random.Random(f"hybrid:{attributes['id']}"), make=attributes["make"])
        attributes = {**hybrid, "id": attributes["id"]}
    if rng.random() < STALE_SHARE:
        attributes["data_age_hours"] = rng.choice(STALE_HOURS)
    if rng.random() < SLEEPER_SHARE and attributes["speed_kmh"] == 0:
        attributes["awake_minutes"] = rng.choice((10, 20, 30))
        attributes["asleep_minutes"] = rng.choice((20, 40, 60))
    return attributes


def create_vehicle(user: SimulatedUser, **attrs: Any) -> SimulatedVehicle:
    """A vehicle for ``user``: the given attributes, the rest drawn at random (seeded by the VIN or id if given).

    A make the simulator does not know is fine: the other values are then drawn from any make.
    """
    rng = random.Random(str(attrs.get("vin") or attrs.get("id") or secrets.randbits(64)))
    make = attrs.get("make")
    values = random_vehicle_attributes(
        rng, make=make if make and make.upper() in MAKES else None, powertrain=attrs.get("powertrain")
    )
    values.update(attrs)
    values.setdefault("state_at", clock.now())
    return SimulatedVehicle.objects.create(user=user, **values)


def seed_vehicles(
    count: int,
    *,
    seed: int = 0,
    email: str = "driver@example.com",
    application: Application | None = None,
    make: str | None = None,
    traits: bool | None = None,
) -> list[SimulatedVehicle]:
    """``count`` vehicles for the user with ``email``, the same ones for the same seed, email and make.

    With ``traits`` (default: ``SMARTCAR_SIMULATOR["SEED_TRAITS"]``, off unless turned on) some of them are
    plug-in hybrids, have data hours old, or sleep (see ``with_traits``).

    With ``application``, the vehicles are also connected to it with every permission, as if their owner had
    approved them in Connect (use ``grants.connect_vehicles`` to get that approval's tokens too).
    """
    if count < 0:
        raise ValueError("count must not be negative")
    user = create_user(email)
    seed_material = f"{seed}:{user.email}:{make or ''}".encode()
    rng = random.Random(int.from_bytes(hashlib.sha256(seed_material).digest()[:8], "big"))
    vehicles = []
    traits = seed_traits_enabled() if traits is None else traits
    with transaction.atomic():
        for _ in range(count):
            attributes = random_vehicle_attributes(rng, make=make)
            if traits:
                attributes = with_traits(attributes)
            existing = SimulatedVehicle.objects.filter(vin=attributes["vin"]).first()
            if existing is not None:
                vehicles.append(existing)
                continue
            vehicles.append(SimulatedVehicle.objects.create(user=user, state_at=clock.now(), **attributes))
        if application is not None and vehicles:
            connect_vehicles(application, vehicles)
    return vehicles
