"""Smartcar's permissions (scopes), with the wording Connect shows the vehicle owner.

``PERMISSIONS`` is every permission Smartcar documents (smartcar-v3.md S7.10, [A/permissions]); Connect and the
compatibility API accept all of them. ``ALL_SCOPES`` are the ones the simulator's v2 endpoints serve: what
Connect asks for when the authorize URL names no scope, and what ``grants.connect_vehicles`` grants.
"""

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
    "read_alerts": "Read the vehicle's alerts",
    "read_charge_locations": "Know where the vehicle has charged",
    "read_charge_records": "Read the vehicle's charging history",
    "read_charge_events": "Know when the vehicle starts or stops charging",
    "read_climate": "Read the cabin's climate settings",
    "read_compass": "Know the direction the vehicle is heading",
    "read_diagnostics": "Read the vehicle's diagnostics and trouble codes",
    "read_extended_vehicle_info": "Know the vehicle's trim, equipment and other details",
    "read_service_history": "Read the vehicle's service records",
    "read_speedometer": "Know the vehicle's speed",
    "read_thermometer": "Read the temperatures inside and outside the vehicle",
    "read_user_profile": "Know the name and contact details of the vehicle's owner",
    "control_climate": "Set the cabin's climate",
    "control_pin": "Set or change the vehicle's PIN",
    "control_trunk": "Open or close the vehicle's trunk",
}

ALL_SCOPES: tuple[str, ...] = (
    "read_vehicle_info",
    "read_vin",
    "read_location",
    "read_odometer",
    "read_fuel",
    "read_battery",
    "read_charge",
    "control_charge",
    "read_engine_oil",
    "read_tires",
    "read_security",
    "control_security",
    "control_navigation",
)

# ``required:read_odometer`` in a Connect scope: the owner cannot untick it [rtc].
REQUIRED_PREFIX = "required:"
