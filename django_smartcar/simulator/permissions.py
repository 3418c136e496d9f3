"""Smartcar's permissions as the simulator uses them; their one home is the client's registry.

``PERMISSIONS`` maps every permission Smartcar documents (smartcar-v3.md S7.10, [A/permissions]) to the wording
Connect shows the vehicle owner; Connect and the compatibility API accept all of them. ``ALL_SCOPES`` are the ones
the simulator's v2 endpoints serve: what Connect asks for when the authorize URL names no scope, and what
``grants.connect_vehicles`` grants. Both come from ``django_smartcar.client.permissions``.
"""

from __future__ import annotations

from ..client import permissions as registry
from ..client.permissions import ALL_SCOPES as ALL_SCOPES
from ..client.permissions import REQUIRED_PREFIX as REQUIRED_PREFIX

PERMISSIONS: dict[str, str] = {name: item.description for name, item in registry.PERMISSIONS.items()}
