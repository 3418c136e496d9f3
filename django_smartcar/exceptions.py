"""Errors raised by the app's services (Smartcar's own errors are ``django_smartcar.client`` exceptions)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import SmartcarAccount, Vehicle, VehicleCommand, VehicleRefresh


class DjangoSmartcarError(Exception):
    """Base class of the app's own errors."""


class AccountUnavailable(DjangoSmartcarError):
    """The account cannot be used until its owner reconnects (re-authentication needed or disconnected)."""

    def __init__(self, account: SmartcarAccount, message: str = "") -> None:
        self.account = account
        super().__init__(
            message or f"Smartcar account {account.pk} is {account.status}: the owner must reconnect."
        )


class ReauthenticationRequired(AccountUnavailable):
    """Smartcar refused the refresh token for good (expired, revoked or reused)."""


class InvalidConnectState(DjangoSmartcarError):
    """The Connect callback's ``state`` is missing, unknown, expired, reused, or belongs to someone else."""


class MissingPermission(DjangoSmartcarError):
    """The vehicle did not grant the permission an action needs (e.g. ``control_security`` to lock)."""

    def __init__(self, permission: str) -> None:
        self.permission = permission
        super().__init__(f"The vehicle has not granted the {permission!r} permission.")


class VehicleDisconnected(DjangoSmartcarError):
    """The vehicle is no longer connected: nothing is sent to Smartcar for it (each call would be billed)."""

    def __init__(self, vehicle: Vehicle) -> None:
        self.vehicle = vehicle
        super().__init__(f"Vehicle {vehicle.pk} is disconnected: its owner must connect it again.")


class NotQueued(DjangoSmartcarError):
    """The work could not be handed to Celery (the broker is unreachable); nothing will run it."""

    def __init__(
        self, what: str, command: VehicleCommand | None = None, refresh: VehicleRefresh | None = None
    ) -> None:
        # The row marked failed because of it: the command, or the refresh, that will not run.
        self.command = command
        self.refresh = refresh
        super().__init__(
            f"The {what} could not be queued: the task queue is unavailable. Please try again later."
        )


class InvalidConnectRequest(DjangoSmartcarError):
    """A Connect option cannot be used as given (e.g. control characters); the message says which one."""


class BudgetExhausted(DjangoSmartcarError):
    """The vehicle's monthly request budget, for this kind of use, is spent (``services.budget``): nothing was
    sent. ``retry_after`` is the number of seconds until the month ends."""

    def __init__(self, vehicle: Vehicle, kind: str, retry_after: int) -> None:
        self.vehicle = vehicle
        self.kind = kind
        self.retry_after = retry_after
        super().__init__(
            "This vehicle has used its Smartcar requests for this month; it can be read again next month."
            if kind == "user"
            else "This vehicle's scheduled polling has used its share of this month's Smartcar requests."
        )
