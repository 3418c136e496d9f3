"""The seam's V3 side: an account's vehicles reached with the site's application token, scoped to the account's
Smartcar user id (``sc-user-id``); no tokens per account.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..models import SmartcarAccount, Vehicle
from .clients import CommandReply, NewConnection, VehicleReading
from .vehicles import VehicleSnapshot


class V3AccountApi:
    """One V3 connection's vehicles: the Smartcar user's, through the site's application token."""

    def __init__(self, smartcar_user_id: str) -> None:
        self.smartcar_user_id = smartcar_user_id

    @classmethod
    def for_account(cls, account: SmartcarAccount) -> V3AccountApi:
        return cls(account.smartcar_user_id)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} user={self.smartcar_user_id[:8]}>"

    def list_vehicles(self) -> list[VehicleSnapshot]:
        raise NotImplementedError("API V3 vehicle lists are not implemented yet")

    def read_data(self, vehicle: Vehicle, paths: Iterable[str]) -> VehicleReading:
        raise NotImplementedError("API V3 signals are not implemented yet")

    def send_command(self, vehicle: Vehicle, action: str) -> CommandReply:
        raise NotImplementedError("API V3 commands are not implemented yet")

    def disconnect(self, vehicle: Vehicle) -> bool:
        raise NotImplementedError("API V3 connections are not implemented yet")

    def subscribe(self, vehicle: Vehicle, webhook_id: str) -> None:
        raise NotImplementedError("API V3 subscriptions are not implemented yet")

    def unsubscribe(self, vehicle: Vehicle, webhook_id: str) -> None:
        raise NotImplementedError("API V3 subscriptions are not implemented yet")


class V3ConnectApi:
    """Connect completed the V3 way: the redirect names the Smartcar user (``user_id``); no code is exchanged.

    Whether that user id may be trusted (it comes from the query string) is the connect service's check."""

    api_version = SmartcarAccount.ApiVersion.V3.value

    def complete(self, params: Mapping[str, str], redirect_uri: str) -> NewConnection:
        smartcar_user_id = params.get("user_id") or ""
        return NewConnection(smartcar_user_id, self.api_version, None, V3AccountApi(smartcar_user_id))
