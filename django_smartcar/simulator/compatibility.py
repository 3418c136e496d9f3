"""The compatibility API's answers (``GET /v2.0/compatibility``) and Smartcar's test VINs.

As Smartcar answers it (smartcar-v3.md S7.6, [A/compatibility/by-vin]): one capability per endpoint a
permission in the scope opens, with a bare path (``"/engine/oil"``); a capability's ``reason`` is
``VEHICLE_NOT_CAPABLE`` (the car cannot: fuel on an electric car), ``SMARTCAR_NOT_CAPABLE`` (Smartcar, here the
simulator, does not serve it) or null. ``compatible`` is about the vehicle, not about each capability: it is
false only for an unknown make (``MAKE_NOT_COMPATIBLE``) or an incompatible vehicle
(``VEHICLE_NOT_COMPATIBLE``), and then ``capabilities`` is empty.

Smartcar's test-mode VINs start with ``0SC`` and the make [D/getting-started/test-your-integration,
D/errors/connect-errors/*]: they are compatible with every permission, except the one Smartcar uses for
``vehicle_incompatible``.
"""

from __future__ import annotations

from typing import Any

from .models import SimulatedVehicle
from .seeding import CATALOGUE, make_for_vin
from .vehicle_api import ELECTRIC_ONLY, ENDPOINTS, FUEL_ONLY

TEST_VIN_PREFIX = "0SC"
# Smartcar's test VIN of the smartcar@vehicle-incompatible.com account, and what Connect shares about it.
INCOMPATIBLE_TEST_VIN = "0SCAUDI012FE3B132"
INCOMPATIBLE_TEST_VINS: dict[str, tuple[str, str, int]] = {INCOMPATIBLE_TEST_VIN: ("AUDI", "A4", 2012)}
# Smartcar's other documented test VINs: a test-mode car, the invalid-subscription account's car.
TEST_VINS: tuple[str, ...] = ("0SCAUDI037A5ADB1C", "0SCAUDI0155C49A95", INCOMPATIBLE_TEST_VIN)

# Documented v2 endpoints of permissions the simulator does not serve: reported SMARTCAR_NOT_CAPABLE.
UNSERVED_ENDPOINTS: dict[str, tuple[str, ...]] = {
    "read_service_history": ("/service/history",),
    "read_diagnostics": ("/diagnostics/dtcs", "/diagnostics/system_status"),
}


def is_test_vin(vin: str) -> bool:
    return len(vin) == 17 and vin.upper().startswith(TEST_VIN_PREFIX)


def endpoints_of(permission: str) -> tuple[list[str], bool]:
    """The bare paths ``permission`` opens, and whether the simulator serves them."""
    served = [
        f"/{path}" for (_method, path), endpoint in ENDPOINTS.items() if endpoint.permission == permission
    ]
    if served:
        return list(dict.fromkeys(served)), True
    return list(UNSERVED_ENDPOINTS.get(permission, ())), False


def check(vin: str, scope: list[str]) -> dict[str, Any]:
    """The compatibility body for ``vin`` (17 characters, upper case) and a validated ``scope``."""
    if vin in INCOMPATIBLE_TEST_VINS:
        return {"compatible": False, "reason": "VEHICLE_NOT_COMPATIBLE", "capabilities": []}
    known = SimulatedVehicle.objects.filter(vin=vin).first()
    lacking: frozenset[str] = frozenset()
    if known is not None:
        lacking = FUEL_ONLY if known.is_electric else ELECTRIC_ONLY
    elif not is_test_vin(vin):
        make = make_for_vin(vin)
        if make is None:
            return {"compatible": False, "reason": "MAKE_NOT_COMPATIBLE", "capabilities": []}
        electric = next(entry.powertrain == "EV" for entry in CATALOGUE if vin.startswith(entry.wmi))
        lacking = FUEL_ONLY if electric else ELECTRIC_ONLY
    capabilities = []
    for permission in scope:
        paths, served = endpoints_of(permission)
        for path in paths:
            if not served:
                capable, reason = False, "SMARTCAR_NOT_CAPABLE"
            elif permission in lacking:
                capable, reason = False, "VEHICLE_NOT_CAPABLE"
            else:
                capable, reason = True, None
            capabilities.append(
                {"permission": permission, "endpoint": path, "capable": capable, "reason": reason}
            )
    return {"compatible": True, "reason": None, "capabilities": capabilities}
