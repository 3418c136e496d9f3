"""Commands to cars (lock, unlock, start and stop charging), each leaving an audit row.

Commands are never retried here: a lock that timed out may have reached the car, and sending it again is a
decision for a person, not for a retry loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from .. import client, signals
from ..client.redaction import redact_text
from ..crypto import EncryptionKeyError
from ..exceptions import AccountUnavailable, DjangoSmartcarError, MissingPermission
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


@dataclass(frozen=True)
class Failure:
    """Why a call failed, in Smartcar's vocabulary: what audit rows record and what the API answers with."""

    type: str
    code: str
    message: str
    request_id: str = ""
    retry_after: int | None = None


# The type recorded when Smartcar gave none (a network error, a gateway's HTML page).
UNTYPED = "SMARTCAR"


def describe_failure(exc: Exception) -> Failure:
    """The one place that names a failure: Smartcar's errors as Smartcar typed them, the app's own by kind."""
    if isinstance(exc, client.SmartcarException):
        message = redact_text(str(exc))
        return Failure(exc.type or UNTYPED, exc.code or "", message, exc.request_id or "", exc.retry_after)
    if isinstance(exc, MissingPermission):
        return Failure("PERMISSION", exc.permission, str(exc))
    if isinstance(exc, AccountUnavailable):
        return Failure("REAUTHENTICATE", exc.account.status, str(exc))
    if isinstance(exc, EncryptionKeyError):
        return Failure(
            "UNAVAILABLE",
            "encryption_key",
            "Vehicle access is unavailable: stored credentials cannot be read.",
        )
    # Last line of defence: the message is stored on the audit row and answered by the API.
    return Failure("ERROR", type(exc).__name__, redact_text(str(exc)))


def ensure_permitted(vehicle: Vehicle, action: str) -> None:
    """Raise ``MissingPermission`` unless the vehicle granted what ``action`` needs."""
    permission = REQUIRED_PERMISSION[Action(action)]
    if not vehicle.has_permission(permission):
        raise MissingPermission(permission)


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
        ensure_permitted(vehicle, action)
        remote = get_vehicle_client(vehicle.smartcar_id, get_access_token(vehicle.account))
        answer = getattr(remote, action.value)()
    except (client.SmartcarException, DjangoSmartcarError) as exc:
        failure = describe_failure(exc)
        command.status = VehicleCommand.Status.FAILED
        command.error_type = failure.type[:50]
        command.error_code = failure.code[:50]
        command.error_message = failure.message
        command.smartcar_request_id = failure.request_id
        command.retry_after = failure.retry_after
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
