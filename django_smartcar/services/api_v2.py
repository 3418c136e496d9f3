"""The seam's v2.0 side: an account's vehicles reached with its own access token, Connect completed by exchanging
the code for tokens.

The calls the services made to the v2 client before API V3 existed, moved here unchanged; the services reach
them through ``clients.account_api`` and ``clients.connect_api`` only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from .. import client
from ..conf import management_tokens
from ..exceptions import InvalidConnectRequest
from ..models import SmartcarAccount, Vehicle, VehicleCommand
from .clients import (
    CommandReply,
    NewConnection,
    PreparedRead,
    VehicleReading,
    get_auth_client,
    get_transport,
)
from .tokens import get_access_token
from .vehicles import DataPoint, VehicleSnapshot, is_unknown_vehicle

if TYPE_CHECKING:
    from .clients import AccountApi

Action = VehicleCommand.Action

PERMISSIONS_PAGE_SIZE = 50
# The longest authorization code sent to Smartcar; a longer one is no code of its.
CODE_MAX_LENGTH = 500
# What a vehicle is (make, model and year; VIN), read when it is connected, each with the permission it needs.
IDENTITY_PATHS = (("/", "read_vehicle_info"), ("/vin", "read_vin"))

# The client call that sends each action: spelled out, so that every call site shows in "find usages". The one
# dispatch of v2 commands; the services name an ``Action`` and come through ``V2AccountApi.send_command``.
SENDERS: dict[Action, Callable[[client.Vehicle], client.ActionResult]] = {
    Action.LOCK: client.Vehicle.lock,
    Action.UNLOCK: client.Vehicle.unlock,
    Action.START_CHARGE: client.Vehicle.start_charge,
    Action.STOP_CHARGE: client.Vehicle.stop_charge,
}


def vehicle_client(smartcar_vehicle_id: str, access_token: str) -> client.Vehicle:
    # The app stores everything in metric; imperial is a presentation concern.
    return client.Vehicle(smartcar_vehicle_id, access_token, unit_system="metric", transport=get_transport())


class V2AccountApi:
    """One v2 connection's vehicles, reached with its access token.

    The token is asked for once, when first needed (``tokens.get_access_token`` for an account: refreshed first
    when it is about to expire), and kept for the object's life, as one sync or one command needs it.
    """

    def __init__(self, access_token: Callable[[], str]) -> None:
        self._get_access_token = access_token
        self._access_token: str | None = None

    @classmethod
    def for_account(cls, account: SmartcarAccount) -> V2AccountApi:
        return cls(lambda: get_access_token(account))

    @classmethod
    def for_access_token(cls, access_token: str) -> V2AccountApi:
        return cls(lambda: access_token)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"  # never the token

    @property
    def access_token(self) -> str:
        if self._access_token is None:
            self._access_token = self._get_access_token()
        return self._access_token

    def _vehicle(self, smartcar_vehicle_id: str) -> client.Vehicle:
        return vehicle_client(smartcar_vehicle_id, self.access_token)

    def list_vehicles(self) -> list[VehicleSnapshot]:
        """Every vehicle the token reaches (all pages), with attributes and VIN from one batch request each."""
        access_token = self.access_token
        snapshots = []
        for vehicle_id in client.iter_vehicle_ids(access_token, transport=get_transport()):
            remote = vehicle_client(vehicle_id, access_token)
            permissions = _all_permissions(remote)
            # Only what was granted: the owner may have unticked read_vehicle_info, or the scope left it out.
            paths = [path for path, needs in IDENTITY_PATHS if needs in permissions]
            batch = remote.batch(paths) if paths else None
            attributes = batch.result("/").data if batch and "/" in paths else {}
            vin = batch.result("/vin").data.get("vin", "") if batch and "/vin" in paths else ""
            snapshots.append(
                VehicleSnapshot(
                    smartcar_id=vehicle_id,
                    make=attributes.get("make") or "",
                    model=attributes.get("model") or "",
                    year=attributes.get("year"),
                    vin=vin or "",
                    permissions=tuple(permissions),
                    billed=len(paths),
                )
            )
        return snapshots

    def read_data(self, vehicle: Vehicle, paths: Iterable[str]) -> VehicleReading:
        """One batch request for ``paths``; each path's data point or its own error."""
        paths = list(paths)
        return _reading(self._vehicle(vehicle.smartcar_id).batch(paths), paths)

    def prepare_read(self, vehicle: Vehicle, paths: Iterable[str]) -> PreparedRead:
        paths = list(paths)
        requested = client.batch_paths(paths)
        return PreparedRead(
            self._vehicle(vehicle.smartcar_id).batch_request(requested),
            lambda response: _reading(client.BatchResult.from_response(response, requested), paths),
        )

    def send_command(self, vehicle: Vehicle, action: str) -> CommandReply:
        answer = SENDERS[Action(action)](self._vehicle(vehicle.smartcar_id))
        return CommandReply(answer.meta.request_id or "", str(answer.data.get("message") or ""))

    def disconnect(self, vehicle: Vehicle) -> bool:
        remote = self._vehicle(vehicle.smartcar_id)
        try:
            remote.disconnect()
        except client.SmartcarException as exc:
            # Smartcar no longer knows this connection (401, or its 400 for a vehicle id the token does not
            # reach): it is as disconnected as it can be. Anything else (a 404 included: a bug) is raised.
            if isinstance(exc, client.AuthenticationException) or is_unknown_vehicle(exc.type, exc.code):
                return False
            raise
        return True

    def subscribe(self, vehicle: Vehicle, webhook_id: str) -> None:
        self._vehicle(vehicle.smartcar_id).subscribe(webhook_id)

    def unsubscribe(self, vehicle: Vehicle, webhook_id: str) -> None:
        """Needs the Application Management Token: without one, nothing is sent."""
        tokens = management_tokens()
        if not tokens:
            return
        client.unsubscribe(tokens[0], vehicle.smartcar_id, webhook_id, transport=get_transport())


def _reading(batch: client.BatchResult, paths: list[str]) -> VehicleReading:
    answers: dict[str, DataPoint | client.SmartcarException] = {}
    for path in paths:
        try:
            answer = batch.result(path)
        except client.SmartcarException as exc:
            answers[path] = exc
            continue
        answers[path] = DataPoint(path, dict(answer.data), answer.meta.data_age or answer.meta.fetched_at)
    return VehicleReading(answers)


def _all_permissions(remote: client.Vehicle) -> list[str]:
    """The permissions granted for the vehicle, as bare names (``required:`` is Connect's, never a grant's)."""
    permissions: list[str] = []
    offset = 0
    while True:
        page = remote.permissions(limit=PERMISSIONS_PAGE_SIZE, offset=offset).data
        permissions.extend(page.get("permissions", []))
        offset += len(page.get("permissions", []))
        if not page.get("permissions") or offset >= page.get("paging", {}).get("count", 0):
            return client.permission_names(permissions)


class V2ConnectApi:
    """Connect completed the v2 way: the redirect's ``code`` exchanged for the user's tokens."""

    api_version = SmartcarAccount.ApiVersion.V2.value

    def complete(
        self, params: Mapping[str, str], redirect_uri: str, *, started_at: datetime
    ) -> NewConnection:
        # Only Smartcar can issue a code, and exchanging it proves whose it is: ``started_at`` adds nothing.
        code = params.get("code") or ""
        if not code or len(code) > CODE_MAX_LENGTH:
            raise InvalidConnectRequest(
                "The Connect response carried no authorization code. Please start again."
            )
        access = get_auth_client(redirect_uri).exchange_code(code)
        smartcar_user_id = client.get_user_id(access["access_token"], transport=get_transport())
        api: AccountApi = V2AccountApi.for_access_token(access["access_token"])
        return NewConnection(smartcar_user_id, self.api_version, access, api)
