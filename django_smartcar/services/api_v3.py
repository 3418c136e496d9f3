"""The seam's V3 side: an account's vehicles reached with the site's application token (``app_token``), scoped to
the account's Smartcar user id (``sc-user-id``); no tokens per account.

Vehicles come from ``/v3/connections`` (make, model, year and the permissions granted), data from ONE
``GET /v3/vehicles/{id}/signals`` per vehicle (every signal stored, the known ones turned into the app's data
points by ``services.signals``), commands through the unified V3 commands, disconnection through the
connections API and webhook subscriptions through the v3 Management API. Errors are the client's exceptions,
the same classes as v2's, so the services' failure rules apply to both APIs unchanged; a signal that failed is
turned into the exception its error names (``signal_exception``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.utils import timezone

from .. import client
from ..client import v3
from ..client.exceptions import exception_class_for
from ..models import SmartcarAccount, Vehicle, VehicleCommand
from . import connect_v3
from . import signals as signal_store
from .app_token import application_token
from .clients import CommandReply, NewConnection, PreparedRead, VehicleReading, get_transport
from .tokens import ensure_usable
from .vehicles import DATA_GROUPS_BY_NAME, DataPoint, VehicleSnapshot

Action = VehicleCommand.Action

# The V3 command each action sends (the unified ``POST /vehicles/{id}/commands/...``).
COMMANDS: dict[Action, str] = {
    Action.LOCK: v3.LOCK,
    Action.UNLOCK: v3.UNLOCK,
    Action.START_CHARGE: v3.START_CHARGE,
    Action.STOP_CHARGE: v3.STOP_CHARGE,
}


def vehicle_api() -> v3.VehicleApi:
    # The app stores everything in metric; imperial is a presentation concern.
    return v3.VehicleApi(application_token(), transport=get_transport(), unit_system="metric")


def management_api() -> v3.ManagementApi:
    return v3.ManagementApi(application_token(), transport=get_transport())


def _resolution(value: Any) -> dict[str, str | None] | None:
    if isinstance(value, str) and value:
        return {"type": value, "url": None}
    if isinstance(value, Mapping):
        kind, url = value.get("type"), value.get("url")
        return {"type": kind if isinstance(kind, str) else None, "url": url if isinstance(url, str) else None}
    return None


def signal_exception(error: Mapping[str, Any]) -> client.SmartcarException:
    """A failed signal's ``status.error`` (``{type, code, description?, resolution?}``) as the exception a v2 batch
    item with that error raises, so that one rule (not capable, asleep, re-authenticate...) judges both."""

    def text(key: str) -> str | None:
        value = error.get(key)
        return value if isinstance(value, str) and value else None

    error_type = (text("type") or "").upper() or None
    code = text("code")
    cls = exception_class_for(None, error_type, code)
    return cls(
        text("description") or text("detail") or "The signal could not be read",
        type=error_type,
        code=code,
        resolution=_resolution(error.get("resolution")),
        suggested_user_message=text("suggestedUserMessage"),
    )


def snapshot(connection: v3.Connection) -> VehicleSnapshot:
    """What a V3 connection says identifies its vehicle. The VIN comes with the vehicle's first signals (the
    ``vehicleidentification-vin`` signal, when ``read_vin`` is granted): no request is spent on it here."""
    return VehicleSnapshot(
        smartcar_id=connection.vehicle_id or "",
        make=connection.make or "",
        model=connection.model or "",
        year=connection.year,
        permissions=tuple(client.permission_names(connection.permissions)),
    )


class V3AccountApi:
    """One V3 connection's vehicles: the Smartcar user's, through the site's application token.

    Built for an account (``for_account``), each call first applies the account rule v2's token lookup applies
    (``tokens.ensure_usable``: an account that needs reconnecting is refused before anything is sent)."""

    def __init__(self, smartcar_user_id: str, account: SmartcarAccount | None = None) -> None:
        self.smartcar_user_id = smartcar_user_id
        self.account = account

    @classmethod
    def for_account(cls, account: SmartcarAccount) -> V3AccountApi:
        return cls(account.smartcar_user_id, account)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} user={self.smartcar_user_id[:8]!r}>"

    def _usable(self) -> None:
        if self.account is not None:
            ensure_usable(self.account)

    def _connections(self, vehicle_id: str | None = None) -> list[v3.Connection]:
        """The user's connections (of one vehicle), every page; a connection naming another user is skipped."""
        user_id = self.smartcar_user_id
        return [
            connection
            for connection in vehicle_api().iter_connections(user_id=user_id, vehicle_id=vehicle_id)
            if connection.user_id in (None, user_id)
            and (vehicle_id is None or connection.vehicle_id in (None, vehicle_id))
        ]

    def list_vehicles(self) -> list[VehicleSnapshot]:
        self._usable()
        snapshots: dict[str, VehicleSnapshot] = {}
        for connection in self._connections():
            if (
                connection.vehicle_id and connection.vehicle_id not in snapshots
            ):  # newest first: the newest wins
                snapshots[connection.vehicle_id] = snapshot(connection)
        return list(snapshots.values())

    def read_data(self, vehicle: Vehicle, paths: Iterable[str]) -> VehicleReading:
        """ONE ``GET /signals`` for everything the vehicle reports: every signal stored (``record_signals``), and
        for each of ``paths`` its data point, or the error its signals carried."""
        self._usable()
        wanted = list(paths)
        received_at = timezone.now()
        signals = vehicle_api().get_signals(vehicle.smartcar_id, self.smartcar_user_id)
        return _reading(vehicle, signals, wanted, received_at)

    def prepare_read(self, vehicle: Vehicle, paths: Iterable[str]) -> PreparedRead:
        self._usable()
        wanted = list(paths)
        request = vehicle_api().signals_request(vehicle.smartcar_id, self.smartcar_user_id)

        def parse(response: client.ApiResponse) -> VehicleReading:
            signals = v3.Signals.from_document(response.body, response.headers)
            return _reading(vehicle, signals, wanted, timezone.now())

        return PreparedRead(request, parse)

    def send_command(self, vehicle: Vehicle, action: str) -> CommandReply:
        self._usable()
        execution = vehicle_api().send_command(
            vehicle.smartcar_id, self.smartcar_user_id, COMMANDS[Action(action)]
        )
        if execution.status not in (v3.SUCCESS, None, "PENDING"):
            error = execution.error or {}
            raise client.SmartcarException(
                f"The car did not carry out the command ({execution.status})",
                type=error.get("type") if isinstance(error.get("type"), str) else None,
                code=error.get("code") if isinstance(error.get("code"), str) else execution.status,
                request_id=execution.request_id,
            )
        message = " ".join(part for part in (execution.command_type, execution.status) if part)
        return CommandReply(execution.request_id or "", message)

    def disconnect(self, vehicle: Vehicle) -> bool:
        """Delete the user's connection(s) of the vehicle; False when Smartcar lists none (gone already)."""
        api = vehicle_api()
        removed = False
        for connection in self._connections(vehicle.smartcar_id):
            try:
                api.delete_connection(connection.id)
            except client.ResourceNotFoundException:
                continue  # removed meanwhile
            removed = True
        return removed

    def subscribe(self, vehicle: Vehicle, webhook_id: str) -> None:
        """A subscription that exists already (409) is as good as a new one."""
        management_api().create_subscription(webhook_id, self.smartcar_user_id, vehicle.smartcar_id)

    def unsubscribe(self, vehicle: Vehicle, webhook_id: str) -> None:
        api = management_api()
        for subscription in list(
            api.iter_subscriptions(
                user_id=self.smartcar_user_id, webhook_id=webhook_id, vehicle_id=vehicle.smartcar_id
            )
        ):
            try:
                api.delete_subscription(subscription.id)
            except client.ResourceNotFoundException:
                continue  # removed meanwhile


def _reading(
    vehicle: Vehicle, signals: v3.Signals, wanted: list[str], received_at: datetime
) -> VehicleReading:
    """The signals stored, and the reading of ``wanted`` paths they give (both APIs' rules apply to it)."""
    # In a v4 webhook's shape: signals read and signals delivered go through the same code.
    raw = [signal.webhook_form() for signal in signals]
    signal_store.record_signals(vehicle, raw, received_at=received_at)
    readout = signal_store.read_signals(raw, received_at=received_at)
    found: dict[str, DataPoint | client.SmartcarException] = {point.path: point for point in readout.points}
    for name in readout.not_capable:
        # Only a group's main signal makes it not capable (``services.signals.PRIMARY``).
        found.setdefault(
            DATA_GROUPS_BY_NAME[name].path,
            signal_exception({"type": "COMPATIBILITY", "code": "VEHICLE_NOT_CAPABLE"}),
        )
    for signal in signals:
        group = signal_store.data_group_of(signal.code)
        if signal.status != v3.ERROR or group is None:
            continue
        failure = signal_exception(signal.error or {})
        if failure.type == "COMPATIBILITY" and failure.code == "VEHICLE_NOT_CAPABLE":
            continue  # a secondary signal the car lacks says nothing of its group
        # A group with data (or already judged) keeps it: one of its signals failing is no failure.
        found.setdefault(DATA_GROUPS_BY_NAME[group].path, failure)
    return VehicleReading({path: found[path] for path in wanted if path in found})


class V3ConnectApi:
    """Connect completed the V3 way: the redirect names the Smartcar user (``user_id``); no code is exchanged.

    The user id comes from the query string, so it is believed only once Smartcar lists a connection of that
    user made since this Connect began (``connect_v3.confirmed_connections``): a user id typed into the callback
    URL cannot bind someone else's cars. A ``code`` beside it (the simulator sends one for v2 sites) is ignored."""

    api_version = SmartcarAccount.ApiVersion.V3.value

    def complete(
        self, params: Mapping[str, str], redirect_uri: str, *, started_at: datetime
    ) -> NewConnection:
        smartcar_user_id = connect_v3.user_id_from_redirect(params)
        connect_v3.confirmed_connections(vehicle_api(), smartcar_user_id, since=started_at)
        return NewConnection(smartcar_user_id, self.api_version, None, V3AccountApi(smartcar_user_id))
