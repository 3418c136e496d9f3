"""Smartcar's permissions (Connect's ``scope``): the documented list, the ``required:`` prefix, validation.

This is the one home of the list: the app's checks and the simulator's Connect read it from here.

``PERMISSIONS`` is every permission Smartcar documents (smartcar-v3.md S7.10, [A/permissions]), each with its kind
(``read`` or ``control``) and the wording Connect shows the vehicle owner. ``ALL_SCOPES`` are the ones the v2
endpoints this client calls need: what ``AuthClient`` asks for when it is given no scope.

A Connect scope item may carry the ``required:`` prefix (``required:read_odometer``): the owner cannot untick that
permission [rtc]. What is granted is the bare name, so code that reasons about granted permissions strips the prefix
with ``permission_name`` (or ``permission_names`` for a whole scope).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = [
    "ALL_SCOPES",
    "CONTROL_PERMISSIONS",
    "PERMISSIONS",
    "READ_PERMISSIONS",
    "REQUIRED_PREFIX",
    "InvalidScope",
    "Permission",
    "closest_scope_item",
    "is_required",
    "permission_name",
    "permission_names",
    "scope_list",
    "unknown_scope_items",
    "validate_scope",
]

# ``required:read_odometer`` in a Connect scope: the owner cannot untick it [rtc].
REQUIRED_PREFIX = "required:"

PermissionKind = Literal["read", "control"]


@dataclass(frozen=True)
class Permission:
    """One documented permission: ``read_*`` reads data, ``control_*`` sends commands."""

    name: str
    description: str  # as Connect words it for the vehicle owner

    @property
    def kind(self) -> PermissionKind:
        return "control" if self.name.startswith("control_") else "read"


def _registry(*entries: tuple[str, str]) -> Mapping[str, Permission]:
    return MappingProxyType({name: Permission(name, description) for name, description in entries})


PERMISSIONS: Mapping[str, Permission] = _registry(
    # The thirteen the v2 endpoints use [A/permissions; smartcar-api.md].
    ("read_vehicle_info", "Know make, model, and year"),
    ("read_vin", "Read VIN"),
    ("read_location", "Access the vehicle's location"),
    ("read_odometer", "Retrieve total distance traveled"),
    ("read_fuel", "Read fuel tank level"),
    ("read_battery", "Read EV battery's capacity and state of charge"),
    ("read_charge", "Know whether the vehicle is charging"),
    ("control_charge", "Start or stop the vehicle's charging and set its charge limit"),
    ("read_engine_oil", "Read engine oil health"),
    ("read_tires", "Read tire pressure"),
    ("read_security", "Inspect lock status"),
    ("control_security", "Lock or unlock the vehicle"),
    ("control_navigation", "Send destinations to the vehicle's navigation"),
    # The others Smartcar documents (smartcar-v3.md S7.10, [A/permissions]).
    ("read_alerts", "Read the vehicle's alerts"),
    ("read_charge_locations", "Know where the vehicle has charged"),
    ("read_charge_records", "Read the vehicle's charging history"),
    ("read_charge_events", "Know when the vehicle starts or stops charging"),
    ("read_climate", "Read the cabin's climate settings"),
    ("read_compass", "Know the direction the vehicle is heading"),
    ("read_diagnostics", "Read the vehicle's diagnostics and trouble codes"),
    ("read_extended_vehicle_info", "Know the vehicle's trim, equipment and other details"),
    ("read_service_history", "Read the vehicle's service records"),
    ("read_speedometer", "Know the vehicle's speed"),
    ("read_thermometer", "Read the temperatures inside and outside the vehicle"),
    ("read_user_profile", "Know the name and contact details of the vehicle's owner"),
    ("control_climate", "Set the cabin's climate"),
    ("control_pin", "Set or change the vehicle's PIN"),
    ("control_trunk", "Open or close the vehicle's trunk"),
)

READ_PERMISSIONS: tuple[str, ...] = tuple(name for name, item in PERMISSIONS.items() if item.kind == "read")
CONTROL_PERMISSIONS: tuple[str, ...] = tuple(
    name for name, item in PERMISSIONS.items() if item.kind == "control"
)

# The permissions of the v2 endpoints (the first thirteen above).
ALL_SCOPES: tuple[str, ...] = tuple(PERMISSIONS)[:13]


class InvalidScope(ValueError):
    """A scope names a permission Smartcar does not document (the message names the closest one)."""

    def __init__(self, unknown: list[str]) -> None:
        self.unknown = unknown
        described = []
        for item in unknown:
            closest = closest_scope_item(item)
            described.append(f"{item!r} (did you mean {closest!r}?)" if closest else repr(item))
        super().__init__(
            f"Unknown Smartcar permission(s) in scope: {', '.join(described)}. Permissions are documented names "
            f"such as 'read_odometer', optionally prefixed with {REQUIRED_PREFIX!r}."
        )


def scope_list(scope: str | Iterable[str]) -> list[str]:
    """A scope as a list: a space-separated string is split (never joined letter by letter)."""
    return scope.split() if isinstance(scope, str) else list(scope)


def is_required(item: str) -> bool:
    """Whether a scope item is ``required:`` (the owner cannot untick it)."""
    return item.startswith(REQUIRED_PREFIX)


def permission_name(item: str) -> str:
    """The permission a scope item names: ``required:read_odometer`` -> ``read_odometer``."""
    return item.removeprefix(REQUIRED_PREFIX)


def permission_names(scope: str | Iterable[str]) -> list[str]:
    """The permissions a scope names, without ``required:`` and without repeats, in order."""
    return list(dict.fromkeys(permission_name(item) for item in scope_list(scope)))


def unknown_scope_items(scope: str | Iterable[str]) -> list[str]:
    """The items of a scope that are not a documented permission (with or without ``required:``)."""
    return [item for item in scope_list(scope) if permission_name(item) not in PERMISSIONS]


def closest_scope_item(item: str) -> str | None:
    """The documented permission closest to a misspelled scope item, keeping its ``required:`` prefix."""
    prefix = REQUIRED_PREFIX if is_required(item) else ""
    # "require:read_vin" or "required_read_vin": a misspelled prefix still has its permission after it.
    name = permission_name(item)
    if name not in PERMISSIONS and ":" in name:
        written_prefix, _, name = name.rpartition(":")
        prefix = (
            REQUIRED_PREFIX if difflib.SequenceMatcher(None, written_prefix, "required").ratio() > 0.6 else ""
        )
    matches = difflib.get_close_matches(name, PERMISSIONS, n=1, cutoff=0.6)
    return f"{prefix}{matches[0]}" if matches else None


def validate_scope(scope: str | Iterable[str]) -> list[str]:
    """The scope as a list of items, unchanged (``required:`` kept); ``InvalidScope`` if one is unknown."""
    items = scope_list(scope)
    if not all(isinstance(item, str) for item in items):
        raise TypeError("A scope is a space-separated string or a list of permission names (strings)")
    unknown = unknown_scope_items(items)
    if unknown:
        raise InvalidScope(unknown)
    return items
