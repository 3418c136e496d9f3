"""Commands to cars (lock, unlock, start and stop charging), each leaving an audit row.

Commands are never retried here: a lock that timed out may have reached the car, and sending it again is a
decision for a person, not for a retry loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from .. import client, signals
from ..client.redaction import redact_text
from ..conf import smartcar_settings
from ..crypto import EncryptionKeyError
from ..exceptions import (
    AccountUnavailable,
    BudgetExhausted,
    DjangoSmartcarError,
    MissingPermission,
    NotQueued,
    VehicleDisconnected,
)
from ..models import SiteUser, SmartcarAccount, Vehicle, VehicleCommand
from . import budget, pacing, queueing
from .app_token import ApiCredentialsMissing
from .clients import account_api
from .tokens import needs_reauthentication
from .vehicles import ensure_connected, log_refused_request, owner_action_message, record_account_error

logger = logging.getLogger(__name__)

Action = VehicleCommand.Action

# The permission each action needs.
REQUIRED_PERMISSION = {
    Action.LOCK: "control_security",
    Action.UNLOCK: "control_security",
    Action.START_CHARGE: "control_charge",
    Action.STOP_CHARGE: "control_charge",
}


@dataclass(frozen=True)
class Failure:
    """Why a call failed, in Smartcar's vocabulary: what audit rows record and what the API answers with.

    The one class for it: ``describe_failure`` names a raised failure, ``from_command`` reads one recorded on an
    audit row, and ``api.errors`` maps either to an HTTP answer.
    """

    type: str
    code: str
    message: str
    request_id: str = ""
    retry_after: int | None = None
    # Smartcar's error asked the owner to re-authenticate (``tokens.needs_reauthentication``: AUTHENTICATION,
    # or a REAUTHENTICATE resolution such as CONNECTED_SERVICES_ACCOUNT/AUTHENTICATION_FAILED's).
    reauthenticate: bool = False

    @classmethod
    def from_command(cls, command: VehicleCommand) -> Failure:
        """The failure recorded on a command's audit row (``execute_command`` records, never raises).

        The row keeps no resolution: a failure the account was moved to ``reauth_required`` for (the one rule,
        applied when it was recorded) is one that asks to re-authenticate."""
        return cls(
            command.error_type or UNTYPED,
            command.error_code,
            command.error_message,
            command.smartcar_request_id,
            command.retry_after,
            reauthenticate=bool(command.error_type)
            and command.vehicle.account.status == SmartcarAccount.Status.REAUTH_REQUIRED,
        )


# The type recorded when Smartcar gave none (a network error, a gateway's HTML page).
UNTYPED = "SMARTCAR"
# The type recorded when a command could not be handed to Celery (the broker was down): it never ran.
NOT_QUEUED = "NOT_QUEUED"
# The vehicle's monthly request budget is spent (``services.budget``): nothing was sent.
BUDGET = "BUDGET"
# The type recorded when no worker completed a queued command in time (see ``fail_abandoned_commands``).
ABANDONED = "ABANDONED"


def describe_failure(exc: Exception, *, make: str = "") -> Failure:
    """The one place that names a failure: Smartcar's errors as Smartcar typed them, the app's own by kind.

    A Smartcar error's message is for the owner: what they must do at their car maker (``make``) for a
    CONNECTED_SERVICES_ACCOUNT error that no reconnect fixes, else Smartcar's ``suggestedUserMessage`` when it
    sent one, else its description.
    """
    if isinstance(exc, client.SmartcarException):
        message = redact_text(exc.suggested_user_message or str(exc))
        if exc.type == "CONNECTED_SERVICES_ACCOUNT" and not needs_reauthentication(exc.type, exc.resolution):
            message = " ".join(
                part
                for part in (
                    owner_action_message(make, exc.code),
                    redact_text(exc.suggested_user_message or ""),
                )
                if part
            )
        return Failure(
            exc.type or UNTYPED,
            exc.code or "",
            message,
            exc.request_id or "",
            exc.retry_after,
            reauthenticate=needs_reauthentication(exc.type, exc.resolution),
        )
    if isinstance(exc, MissingPermission):
        return Failure("PERMISSION", exc.permission, str(exc))
    if isinstance(exc, AccountUnavailable):
        return Failure("REAUTHENTICATE", exc.account.status, str(exc))
    if isinstance(exc, VehicleDisconnected):
        return Failure("VEHICLE_DISCONNECTED", "disconnected", str(exc))
    if isinstance(exc, NotQueued):
        return Failure(NOT_QUEUED, "broker_unavailable", str(exc))
    if isinstance(exc, BudgetExhausted):
        return Failure(BUDGET, "monthly_requests", str(exc), retry_after=exc.retry_after)
    if isinstance(exc, ApiCredentialsMissing):
        return Failure(
            "UNAVAILABLE",
            "api_credentials",
            "Vehicle access is unavailable: the site's Smartcar API credentials are not set.",
        )
    if isinstance(exc, EncryptionKeyError):
        return Failure(
            "UNAVAILABLE",
            "encryption_key",
            "Vehicle access is unavailable: stored credentials cannot be read.",
        )
    # Last line of defence: the message is stored on the audit row and answered by the API.
    return Failure("ERROR", type(exc).__name__, redact_text(str(exc)))


def ensure_permitted(vehicle: Vehicle, action: str) -> None:
    """Raise ``VehicleDisconnected`` or ``MissingPermission`` unless ``action`` can be sent to the vehicle."""
    ensure_connected(vehicle)
    permission = REQUIRED_PERMISSION[Action(action)]
    if not vehicle.has_permission(permission):
        raise MissingPermission(permission)


def send_command(vehicle: Vehicle, action: str, *, user: SiteUser | None = None) -> VehicleCommand:
    """Send ``action`` to the car now and return its audit row; ``command.status`` tells whether it worked."""
    return execute_command(create_command(vehicle, action, user=user))


def queue_command(vehicle: Vehicle, action: str, *, user: SiteUser | None = None) -> VehicleCommand:
    """Create the pending audit row and queue its Celery task; the one way commands are sent in the background.

    Refusals (disconnected vehicle, missing permission) are raised before any row exists, so the caller hears
    them at once. If the broker is down the row is marked failed (type ``NOT_QUEUED``) and ``NotQueued`` is
    raised: no row is ever left ``pending`` with no message to complete it.
    """
    from .. import tasks  # tasks imports the services: imported here, when first needed

    ensure_permitted(vehicle, action)
    command = create_command(vehicle, action, user=user)
    queueing.publish(
        lambda: tasks.send_vehicle_command.delay(
            vehicle.pk, command.action, getattr(user, "pk", None), command.pk
        ),
        what="command",
        on_failure=lambda: _record_not_queued(command),
    )
    return command


def execute_queued_command(
    vehicle_id: int, action: str, user_id: int | None = None, command_id: int | None = None
) -> VehicleCommand:
    """What a worker does with a queued command: send it and record the outcome on its audit row.

    ``queue_command`` passes the pending row's ``command_id``; a message without one (queued by hand, or by an
    older version) gets its row created here, for the user ``user_id``.
    """
    if command_id is not None:
        command = VehicleCommand.objects.select_related("vehicle__account").get(
            pk=command_id, vehicle_id=vehicle_id
        )
    else:
        vehicle = Vehicle.objects.select_related("account").get(pk=vehicle_id)
        user = get_user_model().objects.filter(pk=user_id).first() if user_id is not None else None
        command = create_command(vehicle, action, user=user)
    return execute_command(command)


def _record_not_queued(command: VehicleCommand) -> VehicleCommand:
    _fail_pending(VehicleCommand.objects.filter(pk=command.pk), describe_failure(NotQueued("command")))
    command.refresh_from_db()
    return command


def _fail_pending(commands: QuerySet[VehicleCommand], failure: Failure) -> int:
    """Mark the still-pending ``commands`` failed; a conditional UPDATE, so an outcome already recorded (the
    worker finished in the meantime) is never overwritten."""
    return commands.filter(status=VehicleCommand.Status.PENDING).update(
        status=VehicleCommand.Status.FAILED,
        error_type=failure.type,
        error_code=failure.code,
        error_message=failure.message,
        completed_at=timezone.now(),
    )


def fail_abandoned_commands(now: datetime | None = None) -> int:
    """Mark failed the commands still pending ``COMMAND_ABANDONED_AFTER`` after they were requested.

    Commands are never retried (one may have reached the car), so a command whose task was lost (a broker
    restart) or whose worker was killed mid-request would otherwise stay ``pending`` for ever. Its task, if it
    ever runs, then sees the row is no longer pending and sends nothing: a lock arriving that late is not what
    the user asked for. Returns how many were marked.
    """
    requested_before = (now or timezone.now()) - smartcar_settings.COMMAND_ABANDONED_AFTER
    failed = _fail_pending(
        VehicleCommand.objects.filter(requested_at__lte=requested_before),
        Failure(
            ABANDONED,
            "no_outcome",
            "No worker completed this command in time (its task was lost or its worker stopped); it may or may "
            "not have reached the car.",
        ),
    )
    if failed:
        logger.warning("Marked %s abandoned vehicle command(s) failed", failed)
    return failed


def create_command(vehicle: Vehicle, action: str, *, user: SiteUser | None = None) -> VehicleCommand:
    """The pending audit row for a command about to be sent (now, or by a Celery task given its id)."""
    with transaction.atomic():
        command = VehicleCommand.objects.create(vehicle=vehicle, requested_by=user, action=Action(action))
        # A conditional update: a command created meanwhile (a later ``requested_at``) stays the latest.
        latest = Vehicle.objects.filter(pk=vehicle.pk).filter(
            Q(last_command__isnull=True) | Q(last_command__requested_at__lte=command.requested_at)
        )
        if latest.update(last_command=command):
            vehicle.last_command = command
    return command


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
        # A command is billed like a read: it is counted before it is sent, against the whole month's budget.
        budget.ensure_allowed(vehicle, 1, budget.USER)
        pacing.spend(1)
        try:
            reply = account_api(vehicle.account).send_command(vehicle, action)
        except client.SmartcarException as exc:
            if budget.is_unbilled(exc):
                budget.give_back(vehicle, 1, budget.USER)
            raise
    except (client.SmartcarException, DjangoSmartcarError) as exc:
        if isinstance(exc, client.SmartcarException):
            log_refused_request(exc, f"command {command.pk} ({action.value}) to vehicle pk={vehicle.pk}")
            record_account_error(vehicle, exc)
        failure = describe_failure(exc, make=vehicle.display_make)
        command.status = VehicleCommand.Status.FAILED
        command.error_type = failure.type[:50]
        command.error_code = failure.code[:50]
        command.error_message = failure.message
        command.smartcar_request_id = failure.request_id
        command.retry_after = failure.retry_after
    else:
        command.status = VehicleCommand.Status.SUCCEEDED
        command.smartcar_request_id = reply.request_id
        command.message = reply.message[:255]
        # The vehicle's data is left as last read from the car: a lock that succeeded says nothing about the
        # doors, and writing ``is_locked`` alone would contradict them. The command shows as the vehicle's
        # ``last_command``; the next read (a refresh, a webhook) brings the car's own state.
    command.completed_at = timezone.now()
    command.save()
    logger.info(
        "Vehicle command %s %s on vehicle %s: %s", command.pk, action.value, vehicle.pk, command.status
    )
    transaction.on_commit(lambda: signals.vehicle_command_sent.send(sender=VehicleCommand, command=command))
    return command
