"""Commands to cars (lock, unlock, start and stop charging), each leaving an audit row.

Commands are never retried here: a lock that timed out may have reached the car, and sending it again is a
decision for a person, not for a retry loop.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from .. import client, signals
from ..exceptions import AccountUnavailable, MissingPermission
from ..models import Vehicle, VehicleCommand
from .clients import get_vehicle_client
from .tokens import get_access_token
from .vehicles import DataPoint, apply_vehicle_data

logger = logging.getLogger(__name__)

Action = VehicleCommand.Action

# The permission each action needs, and the client method that sends it.
REQUIRED_PERMISSION = {
    Action.LOCK: "control_security",
    Action.UNLOCK: "control_security",
    Action.START_CHARGE: "control_charge",
    Action.STOP_CHARGE: "control_charge",
}


def send_command(vehicle: Vehicle, action: str, *, user=None) -> VehicleCommand:
    """Send ``action`` to the car now and return its audit row; ``command.status`` tells whether it worked."""
    return execute_command(create_command(vehicle, action, user=user))


def create_command(vehicle: Vehicle, action: str, *, user=None) -> VehicleCommand:
    """The pending audit row for a command about to be sent (now, or by a Celery task given its id)."""
    return VehicleCommand.objects.create(vehicle=vehicle, requested_by=user, action=Action(action))


def execute_command(command: VehicleCommand) -> VehicleCommand:
    """Send a pending command to the car and record the outcome on its row.

    Smartcar errors, a missing permission and an account that needs reconnecting are recorded on the row
    (never raised), so that admin actions and the API can report each vehicle's outcome side by side.
    """
    if command.status != VehicleCommand.Status.PENDING:
        return command  # a redelivered task must not send the same command twice
    vehicle = command.vehicle
    action = Action(command.action)
    try:
        permission = REQUIRED_PERMISSION[action]
        if not vehicle.has_permission(permission):
            raise MissingPermission(permission)
        remote = get_vehicle_client(vehicle.smartcar_id, get_access_token(vehicle.account))
        answer = getattr(remote, action.value)()
    except client.SmartcarException as exc:
        _fail(command, exc.type or "SMARTCAR", exc.code or "", str(exc), exc.request_id or "")
    except MissingPermission as exc:
        _fail(command, "PERMISSION", exc.permission, str(exc))
    except AccountUnavailable as exc:
        _fail(command, "REAUTHENTICATE", exc.account.status, str(exc))
    else:
        command.status = VehicleCommand.Status.SUCCEEDED
        command.smartcar_request_id = answer.meta.request_id or ""
        command.message = str(answer.data.get("message") or "")[:255]
        if action in (Action.LOCK, Action.UNLOCK):
            # The car confirmed the command; record the new state now rather than wait for the next poll.
            apply_vehicle_data(
                vehicle, [DataPoint("/security", {"isLocked": action == Action.LOCK}, timezone.now())]
            )
    command.completed_at = timezone.now()
    command.save()
    logger.info(
        "Vehicle command %s %s on vehicle %s: %s", command.pk, action.value, vehicle.pk, command.status
    )
    transaction.on_commit(lambda: signals.vehicle_command_sent.send(sender=VehicleCommand, command=command))
    return command


def _fail(command: VehicleCommand, error_type: str, code: str, message: str, request_id: str = "") -> None:
    command.status = VehicleCommand.Status.FAILED
    command.error_type = error_type[:50]
    command.error_code = code[:50]
    command.error_message = message
    command.smartcar_request_id = request_id
