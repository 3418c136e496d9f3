"""Smartcar's permissions (scopes), with the wording Connect shows the vehicle owner."""

from __future__ import annotations

PERMISSIONS: dict[str, str] = {
    "read_vehicle_info": "Know make, model, and year",
    "read_vin": "Read VIN",
    "read_location": "Access the vehicle's location",
    "read_odometer": "Retrieve total distance traveled",
    "read_fuel": "Read fuel tank level",
    "read_battery": "Read EV battery's capacity and state of charge",
    "read_charge": "Know whether the vehicle is charging",
    "control_charge": "Start or stop the vehicle's charging and set its charge limit",
    "read_engine_oil": "Read engine oil health",
    "read_tires": "Read tire pressure",
    "read_security": "Inspect lock status",
    "control_security": "Lock or unlock the vehicle",
    "control_navigation": "Send destinations to the vehicle's navigation",
    "read_service_history": "Read the vehicle's service records",
    "read_diagnostics": "Read the vehicle's diagnostic trouble codes and system status",
}

ALL_SCOPES: tuple[str, ...] = tuple(PERMISSIONS)
