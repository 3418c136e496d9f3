"""The project's own Smartcar v4 webhook payloads, written in the shapes captured from the real service.

Modelled on the public captures kept with the Home Assistant integration (wbyoung/smartcar, tests/fixtures/
webhooks, see the README's webhook notes): the same envelopes, key orders, signal codes, units and error
entries, with this project's own ids, values and times. Each builder takes the Smartcar vehicle id the test
stored, so the event concerns that vehicle. Times are epoch milliseconds, as Smartcar sends them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

USER_ID = "5d0c7f54-2b1e-4d3a-9a55-0c6f3b1a2e77"
WEBHOOK_ID = "0b6b2a0e-6c55-4c1f-8f2e-3f1d9a7b5c21"


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def at(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)


def ok(code: str, name: str, group: str, body: dict[str, Any], oem: int, retrieved: int) -> dict[str, Any]:
    return {
        "code": code,
        "name": name,
        "group": group,
        "body": body,
        "meta": {"oemUpdatedAt": oem, "retrievedAt": retrieved},
        "status": {"value": "SUCCESS"},
    }


def failed(code: str, name: str, group: str, error_type: str, error_code: str | None) -> dict[str, Any]:
    return {
        "name": name,
        "group": group,
        "code": code,
        "status": {"value": "ERROR", "error": {"type": error_type, "code": error_code}},
    }


def updated(code: str, name: str, group: str) -> dict[str, Any]:
    return {"type": "SIGNAL_UPDATED", "signal": {"name": name, "code": code, "group": group}}


def meta(delivered: int, signal_count: int | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "deliveryId": "7c1f0e52-0d8a-4b1e-a3c9-5e2f6b8d9a10",
        "deliveredAt": delivered,
        "version": "4.0",
        "webhookId": WEBHOOK_ID,
        "webhookName": "Garage",
        "mode": "LIVE",
    }
    if signal_count is not None:
        fields["signalCount"] = signal_count
    return fields


def vehicle(vehicle_id: str, make: str, model: str, year: int) -> dict[str, Any]:
    return {
        "user": {"id": USER_ID},
        "vehicle": {"id": vehicle_id, "make": make, "model": model, "year": year},
    }


def state(
    event_id: str, data: dict[str, Any], signals: list, triggers: list, delivered: int
) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "eventType": "VEHICLE_STATE",
        "data": {**data, "signals": signals},
        "triggers": triggers,
        "meta": meta(delivered, len(signals)),
    }


# --- BYD plug-in hybrid: a per-signal error among values (2026 shape) ------------------------------------------

BYD_OEM = 1767811200000  # 2026-01-07T18:40:00Z
BYD_READ = BYD_OEM + 7431


def byd_phev(vehicle_id: str) -> dict[str, Any]:
    signals = [
        failed(
            "vehicleuseraccount-role", "Role", "VehicleUserAccount", "COMPATIBILITY", "VEHICLE_NOT_CAPABLE"
        ),
        failed(
            "internalcombustionengine-fuellevel",
            "FuelLevel",
            "InternalCombustionEngine",
            "COMPATIBILITY",
            "VEHICLE_NOT_CAPABLE",
        ),
        ok(
            "vehicleidentification-nickname",
            "Nickname",
            "VehicleIdentification",
            {"value": "MY SEAL"},
            BYD_OEM,
            BYD_READ,
        ),
        ok(
            "tractionbattery-stateofcharge",
            "StateOfCharge",
            "TractionBattery",
            {"value": 64, "unit": "percent"},
            BYD_OEM,
            BYD_READ,
        ),
        ok("closure-islocked", "IsLocked", "Closure", {"value": False}, BYD_OEM, BYD_READ),
        ok(
            "odometer-traveleddistance",
            "TraveledDistance",
            "Odometer",
            {"value": 8215, "unit": "km"},
            BYD_OEM,
            BYD_READ,
        ),
        ok(
            "connectivitystatus-isonline",
            "IsOnline",
            "ConnectivityStatus",
            {"value": True},
            BYD_OEM,
            BYD_READ,
        ),
    ]
    return state(
        "4f0e6a1c-1b7d-4e59-8d0b-b1a3c2d4e5f6",
        vehicle(vehicle_id, "BYD", "Seal U Dm-i", 2025),
        signals,
        [
            updated("connectivitystatus-isonline", "IsOnline", "ConnectivityStatus"),
            updated("closure-islocked", "IsLocked", "Closure"),
        ],
        BYD_READ + 90,
    )


# --- Polestar 2: many signals, each with its own times, and a SERVER/INTERNAL error -----------------------------

POLESTAR_READ = 1769940000000  # 2026-02-01T10:00:00Z
POLESTAR_CHARGE_OEM = POLESTAR_READ - 9800
POLESTAR_LOCATION_OEM = POLESTAR_READ - 85_000_000
POLESTAR_ODOMETER_OEM = POLESTAR_READ - 85_004_000


def polestar(vehicle_id: str) -> dict[str, Any]:
    read = POLESTAR_READ
    charge = POLESTAR_CHARGE_OEM
    signals = [
        ok("closure-islocked", "IsLocked", "Closure", {"value": True}, read - 40_000_000, read - 600),
        ok(
            "closure-doors",
            "Doors",
            "Closure",
            {
                "values": [
                    {"row": row, "column": column, "isOpen": False, "isLocked": True}
                    for row in (0, 1)
                    for column in (0, 1)
                ],
                "rowCount": 2,
                "columnCount": 2,
            },
            read - 40_000_000,
            read - 600,
        ),
        ok("vehicleidentification-vin", "VIN", "VehicleIdentification", {"value": "LPSVSEDEEML004321"}, 0, 0),
        ok(
            "charge-ischargingcableconnected",
            "IsChargingCableConnected",
            "Charge",
            {"value": True},
            charge,
            read,
        ),
        ok(
            "charge-detailedchargingstatus",
            "DetailedChargingStatus",
            "Charge",
            {"value": "CHARGING"},
            charge,
            read,
        ),
        ok("charge-ischarging", "IsCharging", "Charge", {"value": True}, charge, read),
        ok("charge-wattage", "Wattage", "Charge", {"value": 7210, "unit": "watts"}, charge, read),
        ok(
            "charge-chargelimits",
            "ChargeLimits",
            "Charge",
            {"values": [], "activeLimit": 80, "unit": "percent"},
            charge - 50_000,
            read,
        ),
        failed("charge-chargetimers", "ChargeTimers", "Charge", "SERVER", "INTERNAL"),
        ok(
            "tractionbattery-stateofcharge",
            "StateOfCharge",
            "TractionBattery",
            {"value": 71, "unit": "percent"},
            charge,
            read,
        ),
        ok(
            "tractionbattery-range",
            "Range",
            "TractionBattery",
            {"value": 263, "type": "DEFAULT", "additionalValues": [], "unit": "km"},
            charge,
            read,
        ),
        ok(
            "location-preciselocation",
            "PreciseLocation",
            "Location",
            {"latitude": 59.3293, "longitude": 18.0686, "locationType": "LAST_PARKED"},
            POLESTAR_LOCATION_OEM,
            read - 30,
        ),
        ok(
            "odometer-traveleddistance",
            "TraveledDistance",
            "Odometer",
            {"value": 31877.4, "unit": "km"},
            POLESTAR_ODOMETER_OEM,
            read - 50,
        ),
    ]
    return state(
        "9a7d3e21-55c0-4b8e-a1f2-6d4c3b2a1908",
        vehicle(vehicle_id, "POLESTAR", "Polestar 2", 2024),
        signals,
        [
            updated("charge-wattage", "Wattage", "Charge"),
            updated("tractionbattery-stateofcharge", "StateOfCharge", "TractionBattery"),
        ],
        read + 800,
    )


# --- Jaguar I-PACE: PERMISSION errors on signals this app does not use; tires in "bar" with kPa values ---------

JAGUAR_OEM = 1765200000000  # 2025-12-08T13:20:00Z
JAGUAR_READ = JAGUAR_OEM + 9300
JAGUAR_LOCATION_OEM = JAGUAR_OEM - 31_000_000


def jaguar_ipace(vehicle_id: str) -> dict[str, Any]:
    oem, read = JAGUAR_OEM, JAGUAR_READ
    signals = [
        failed(
            "connectivitystatus-isonline",
            "IsOnline",
            "ConnectivityStatus",
            "COMPATIBILITY",
            "VEHICLE_NOT_CAPABLE",
        ),
        failed("charge-voltage", "Voltage", "Charge", "COMPATIBILITY", "VEHICLE_NOT_CAPABLE"),
        ok(
            "charge-ischargingcableconnected",
            "IsChargingCableConnected",
            "Charge",
            {"value": False},
            oem,
            read,
        ),
        ok(
            "charge-detailedchargingstatus",
            "DetailedChargingStatus",
            "Charge",
            {"value": "NOT_CHARGING"},
            oem,
            read,
        ),
        ok(
            "odometer-traveleddistance",
            "TraveledDistance",
            "Odometer",
            {"value": 120544, "unit": "km"},
            oem,
            read,
        ),
        ok(
            "tractionbattery-stateofcharge",
            "StateOfCharge",
            "TractionBattery",
            {"value": 47, "unit": "percent"},
            oem,
            read,
        ),
        ok(
            "tractionbattery-range",
            "Range",
            "TractionBattery",
            {"value": 151, "additionalValues": [], "unit": "km"},
            oem,
            read,
        ),
        ok("closure-islocked", "IsLocked", "Closure", {"value": True}, oem, read),
        ok(
            "location-preciselocation",
            "PreciseLocation",
            "Location",
            {"latitude": 51.5072, "longitude": -0.1276, "heading": 211},
            JAGUAR_LOCATION_OEM,
            read - 10_000,
        ),
        ok("vehicleidentification-vin", "VIN", "VehicleIdentification", {"value": "SADHA2B11K1F00042"}, 0, 0),
        failed("diagnostics-dtccount", "DTCCount", "Diagnostics", "PERMISSION", None),
        failed("hvac-iscabinhvacactive", "IsCabinHVACActive", "HVAC", "PERMISSION", None),
    ]
    return state(
        "c3b2a190-8d7e-4f6a-b5c4-d3e2f1a0b9c8",
        vehicle(vehicle_id, "JAGUAR", "I-PACE", 2021),
        signals,
        [
            updated("tractionbattery-stateofcharge", "StateOfCharge", "TractionBattery"),
            updated("tractionbattery-range", "Range", "TractionBattery"),
        ],
        read + 130,
    )


JAGUAR2_OEM = 1768170000000  # 2026-01-11T22:20:00Z
JAGUAR2_READ = JAGUAR2_OEM + 8900


def jaguar_ipace_tires(vehicle_id: str, *, pressures: tuple[float, ...], unit: str = "bar") -> dict[str, Any]:
    """The second I-PACE capture's shape: a fuel-less car listing every engine signal as not capable, and
    ``wheel-tires`` in the order it came (front right first)."""
    oem, read = JAGUAR2_OEM, JAGUAR2_READ
    front_left, front_right, back_left, back_right = pressures
    engine = [
        failed(
            f"internalcombustionengine-{code}",
            name,
            "InternalCombustionEngine",
            "COMPATIBILITY",
            "VEHICLE_NOT_CAPABLE",
        )
        for code, name in (
            ("oillife", "OilLife"),
            ("range", "Range"),
            ("fuellevel", "FuelLevel"),
            ("amountremaining", "AmountRemaining"),
        )
    ]
    signals = [
        failed("closure-tailgate", "Tailgate", "Closure", "COMPATIBILITY", "VEHICLE_NOT_CAPABLE"),
        ok("closure-islocked", "IsLocked", "Closure", {"value": True}, oem, read),
        *engine,
        ok(
            "tractionbattery-stateofcharge",
            "StateOfCharge",
            "TractionBattery",
            {"value": 100, "unit": "percent"},
            oem,
            read,
        ),
        ok(
            "charge-detailedchargingstatus",
            "DetailedChargingStatus",
            "Charge",
            {"value": "FULLY_CHARGED"},
            oem,
            read,
        ),
        failed("diagnostics-tirepressure", "TirePressure", "Diagnostics", "PERMISSION", None),
        ok(
            "wheel-tires",
            "Tires",
            "Wheel",
            {
                "values": [
                    {"row": 0, "column": 1, "tirePressure": front_right},
                    {"row": 0, "column": 0, "tirePressure": front_left},
                    {"row": 1, "column": 1, "tirePressure": back_right},
                    {"row": 1, "column": 0, "tirePressure": back_left},
                ],
                "rowCount": 2,
                "columnCount": 2,
                "unit": unit,
            },
            oem,
            read,
        ),
    ]
    return state(
        "XXXX-tires",
        vehicle(vehicle_id, "JAGUAR", "I-PACE", 2021),
        signals,
        [updated("charge-energyadded", "EnergyAdded", "Charge")],
        read + 760,
    )


# --- VW ID.4: the 2025-09 shape (no status, no meta.version, triggers as "Group.Name" strings) ------------------

VW_ODOMETER_OEM = 1758240000000  # 2025-09-19T00:00:00Z
VW_SOC_OEM = VW_ODOMETER_OEM + 56_397
VW_READ = VW_ODOMETER_OEM + 606_226


def vw_id4_all(vehicle_id: str) -> dict[str, Any]:
    return {
        "eventId": "61d2c0a4-3f7e-4b9d-8a6c-5e4f3d2c1b0a",
        "eventType": "VEHICLE_STATE",
        "data": {
            **vehicle(vehicle_id, "VOLKSWAGEN", "ID.4", 2021),
            "signals": [
                {
                    "code": "connectivitystatus-isonline",
                    "name": "IsOnline",
                    "group": "ConnectivityStatus",
                    "status": {
                        "value": "ERROR",
                        "error": {"type": "COMPATIBILITY", "code": "VEHICLE_NOT_CAPABLE"},
                    },
                },
                {
                    "code": "odometer-traveleddistance",
                    "name": "TraveledDistance",
                    "group": "Odometer",
                    "body": {"value": 58112, "unit": "km"},
                    "meta": {"oemUpdatedAt": VW_ODOMETER_OEM, "retrievedAt": VW_READ},
                },
                {
                    "code": "closure-islocked",
                    "name": "IsLocked",
                    "group": "Closure",
                    "status": {"value": "ERROR", "error": {"type": "PERMISSION", "code": None}},
                },
                {
                    "code": "internalcombustionengine-fuellevel",
                    "name": "FuelLevel",
                    "group": "InternalCombustionEngine",
                    "status": {
                        "value": "ERROR",
                        "error": {"type": "COMPATIBILITY", "code": "VEHICLE_NOT_CAPABLE"},
                    },
                },
                {
                    "code": "tractionbattery-stateofcharge",
                    "name": "StateOfCharge",
                    "group": "TractionBattery",
                    "body": {"value": 57, "unit": "percent"},
                    "meta": {"oemUpdatedAt": VW_SOC_OEM, "retrievedAt": VW_READ + 250},
                },
                {
                    "code": "tractionbattery-range",
                    "name": "Range",
                    "group": "TractionBattery",
                    "status": {
                        "value": "ERROR",
                        "error": {"type": "COMPATIBILITY", "code": "VEHICLE_NOT_CAPABLE"},
                    },
                },
                {
                    "code": "charge-ischarging",
                    "name": "IsCharging",
                    "group": "Charge",
                    "body": {"value": False},
                    "meta": {},
                },
            ],
        },
        "triggers": [
            {"type": "SIGNAL_UPDATED", "signal": "Odometer.TraveledDistance"},
            {"type": "SIGNAL_UPDATED", "signal": "TractionBattery.StateOfCharge"},
        ],
        "meta": {
            "deliveryId": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
            "deliveredAt": VW_READ + 350,
            "deliveryTime": VW_READ + 350,
        },
    }


VW_ERROR_DELIVERED = 1758226000000
PERMISSION_DESCRIPTION = (
    "Your application has insufficient permissions to access the requested resource. Please prompt the user to "
    "re-authenticate using Smartcar Connect."
)


def _permission_error(signals: list | None) -> dict[str, Any]:
    error: dict[str, Any] = {
        "type": "PERMISSION",
        "code": None,
        "description": PERMISSION_DESCRIPTION,
        "docURL": "https://smartcar.com/docs/errors/api-errors/permission-errors#null",
        "resolution": {"type": "REAUTHENTICATE"},
        "state": "ERROR",
    }
    if signals is not None:
        error["signals"] = signals
    return error


def vehicle_error(vehicle_id: str, event_id: str, errors: list) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "eventType": "VEHICLE_ERROR",
        "data": {**vehicle(vehicle_id, "VOLKSWAGEN", "ID.4", 2021), "errors": errors},
        "meta": {
            "deliveryId": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
            "deliveredAt": VW_ERROR_DELIVERED,
            "deliveryTime": VW_ERROR_DELIVERED,
        },
    }


def vw_id4_error(vehicle_id: str) -> dict[str, Any]:
    """COMPATIBILITY listing "Group.Name" strings, and PERMISSION scoped to IsLocked with name and group
    swapped (as captured): only the code is right."""
    compatibility = {
        "type": "COMPATIBILITY",
        "code": "VEHICLE_NOT_CAPABLE",
        "description": "The vehicle is incapable of performing your request.",
        "docURL": "https://smartcar.com/docs/errors/api-errors/compatibility-errors#vehicle-not-capable",
        "resolution": {"type": None},
        "suggestedUserMessage": "Your car is unable to perform this request.",
        "state": "ERROR",
        "signals": [
            "VehicleUserAccount.Role",
            "ConnectivityStatus.IsOnline",
            "InternalCombustionEngine.FuelLevel",
        ],
    }
    permission = _permission_error([{"name": "Closure", "group": "IsLocked", "code": "closure-islocked"}])
    return vehicle_error(vehicle_id, "b7c8d9e0-f1a2-4b3c-9d4e-5f6a7b8c9d0e", [compatibility, permission])


def vw_id4_broad_auth_error(vehicle_id: str) -> dict[str, Any]:
    return vehicle_error(vehicle_id, "c8d9e0f1-a2b3-4c4d-8e5f-6a7b8c9d0e1f", [_permission_error(None)])


def vw_id4_irrelevant_auth_error(vehicle_id: str) -> dict[str, Any]:
    signals = [
        {"name": "Permissions", "group": "VehicleUserAccount", "code": "vehicleuseraccount-permissions"},
        {"name": "Role", "group": "VehicleUserAccount", "code": "vehicleuseraccount-role"},
    ]
    return vehicle_error(vehicle_id, "d9e0f1a2-b3c4-4d5e-9f6a-7b8c9d0e1f2a", [_permission_error(signals)])


def vw_id4_mismatch() -> dict[str, Any]:
    """VEHICLE_STATE for a vehicle this site does not know, without meta."""
    return {
        "eventId": "e0f1a2b3-c4d5-4e6f-8a7b-8c9d0e1f2a3b",
        "eventType": "VEHICLE_STATE",
        "data": {
            "user": {"id": USER_ID},
            "vehicle": {
                "id": "3f2e1d0c-9b8a-4776-a655-443322110000",
                "make": "HYUNDAI",
                "model": "IONIQ 5",
                "year": 2023,
            },
            "signals": [],
        },
    }


def vw_id4_verify() -> dict[str, Any]:
    return {"eventType": "VERIFY", "data": {"challenge": "own-challenge-42"}}


def verify_iso_delivered() -> dict[str, Any]:
    """The Oct-2025 VERIFY: meta.deliveredAt as an ISO string."""
    return {
        "eventId": "f1a2b3c4-d5e6-4f7a-8b9c-0d1e2f3a4b5c",
        "eventType": "VERIFY",
        "data": {"challenge": "Qm9vZ2llV29vZ2llMQ"},
        "meta": {
            "version": "4.0",
            "webhookId": WEBHOOK_ID,
            "webhookName": "Garage",
            "deliveryId": "a2b3c4d5-e6f7-4a8b-9c0d-1e2f3a4b5c6d",
            "deliveredAt": "2025-10-21T03:39:07.355Z",
        },
    }


OCT_OEM = 1761017000000  # 2025-10-21T03:23:20Z


def oct_2025_without_status(vehicle_id: str) -> dict[str, Any]:
    """The Oct-2025 VEHICLE_STATE: signals without ``status``, meta with version 4.0."""
    signals = [
        {
            "code": "odometer-traveleddistance",
            "name": "TraveledDistance",
            "group": "Odometer",
            "body": {"value": 21337.5, "unit": "km"},
            "meta": {"oemUpdatedAt": OCT_OEM, "retrievedAt": OCT_OEM + 4000},
        },
        {
            "code": "internalcombustionengine-fuellevel",
            "name": "FuelLevel",
            "group": "InternalCombustionEngine",
            "body": {"value": 75, "unit": "percent"},
            "meta": {"oemUpdatedAt": OCT_OEM, "retrievedAt": OCT_OEM + 4000},
        },
    ]
    return {
        "eventId": "0f1e2d3c-4b5a-4697-8877-665544332211",
        "eventType": "VEHICLE_STATE",
        "data": {**vehicle(vehicle_id, "BMW", "X3", 2022), "signals": signals},
        "triggers": [updated("odometer-traveleddistance", "TraveledDistance", "Odometer")],
        "meta": meta(OCT_OEM + 4100, len(signals)),
    }
