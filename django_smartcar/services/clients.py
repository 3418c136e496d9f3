"""Smartcar client objects built from the app's settings, and the one seam between the app and Smartcar's APIs.

The seam: ``account_api(account)`` hands out what reads an account's vehicles, sends their commands, disconnects
and subscribes them, through whichever API the account uses (v2.0 or V3); ``connect_api()`` what completes a
new connection through the API new connections use (``SMARTCAR["API_VERSION"]``). These two functions are the
only places that read an account's API version or that setting: services (vehicles, commands, connect,
subscriptions) ask the object they return and never branch on the version, and views, admin, tasks and the
REST API never see it. The implementations live in ``api_v2`` and ``api_v3``.

One ``Transport`` (one pooled ``requests.Session``) is shared per process and per configuration, so every
service call reuses warm connections instead of paying a TLS handshake per request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from django.http import HttpRequest
from django.urls import reverse

from .. import client
from ..client.transport import CALL_CLASSES, PreparedRequest, TimeoutSetting
from ..conf import smartcar_settings

if TYPE_CHECKING:
    from ..models import SmartcarAccount, Vehicle
    from .vehicles import DataPoint, VehicleSnapshot

_transports: dict[tuple[client.Origins, client.Timeouts], client.Transport] = {}
_transports_lock = threading.Lock()


def get_origins() -> client.Origins:
    return client.Origins(
        connect=smartcar_settings.CONNECT_ORIGIN,
        auth=smartcar_settings.AUTH_ORIGIN,
        api=smartcar_settings.API_ORIGIN,
        management=smartcar_settings.MANAGEMENT_API_ORIGIN,
        iam=smartcar_settings.IAM_ORIGIN,
        vehicle_v3=smartcar_settings.VEHICLE_API_V3_ORIGIN,
        management_v3=smartcar_settings.MANAGEMENT_API_V3_ORIGIN,
    )


def get_timeouts() -> client.Timeouts:
    """Each class of call's time-out: ``TIMEOUTS[class]``, else ``REQUEST_TIMEOUT`` when set, else the
    client's default for the class."""
    configured: dict[str, Any] = smartcar_settings.TIMEOUTS
    fallback = smartcar_settings.REQUEST_TIMEOUT
    values: dict[str, TimeoutSetting] = {}
    for name in CALL_CLASSES:
        value = configured.get(name, fallback)
        if isinstance(value, list | tuple):  # a (connect, read) pair
            values[name] = (float(value[0]), float(value[-1]))
        elif value is not None:
            values[name] = float(value)
    return client.Timeouts(**values)


def get_transport() -> client.Transport:
    origins = get_origins()
    timeouts = get_timeouts()
    key = (origins, timeouts)
    with _transports_lock:
        transport = _transports.get(key)
        if transport is None:
            transport = _transports[key] = client.Transport(origins=origins, timeouts=timeouts)
        return transport


def get_redirect_uri(request: HttpRequest | None = None) -> str:
    """The configured REDIRECT_URI, or the callback URL built from the request's host."""
    configured: str | None = smartcar_settings.REDIRECT_URI
    if configured:
        return configured
    path = reverse(smartcar_settings.REDIRECT_URL_NAME)
    if request is None:
        raise ValueError('SMARTCAR["REDIRECT_URI"] is not set and there is no request to build it from.')
    return request.build_absolute_uri(path)


def get_auth_client(redirect_uri: str | None = None) -> client.AuthClient:
    return client.AuthClient(
        client_id=smartcar_settings.CLIENT_ID,
        client_secret=smartcar_settings.CLIENT_SECRET,
        redirect_uri=redirect_uri or smartcar_settings.REDIRECT_URI,
        scope=list(smartcar_settings.SCOPE),
        mode=smartcar_settings.MODE,
        transport=get_transport(),
    )


# --- The seam -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VehicleReading:
    """What one read of a vehicle's data brought: for each data path answered, its data point or the error
    Smartcar gave for it, in the order asked. The services apply the same rules to either API's answers
    (``vehicles.refresh_vehicle_data``)."""

    answers: dict[str, DataPoint | client.SmartcarException]


@dataclass(frozen=True)
class PreparedRead:
    """``read_data`` in two halves, for bulk work (``services.bulk``): the request, built but not sent, and how its
    answer becomes a ``VehicleReading`` (for V3, storing the signals on the way, so in the caller's thread)."""

    request: PreparedRequest
    parse: Callable[[client.ApiResponse], VehicleReading]


@dataclass(frozen=True)
class CommandReply:
    """What Smartcar answered a command that succeeded: its request id and message, as the audit row keeps them."""

    request_id: str = ""
    message: str = ""


class AccountApi(Protocol):
    """What the services ask of Smartcar about one connection's vehicles, whichever API it uses.

    Every method raises ``client.SmartcarException`` (the same classes for both APIs) when Smartcar refuses or
    cannot be reached, and the app's own errors (``AccountUnavailable``...) when the account cannot be used."""

    def list_vehicles(self) -> list[VehicleSnapshot]:
        """Every vehicle the connection reaches, with make, model, year, VIN and permissions when granted."""
        ...

    def read_data(self, vehicle: Vehicle, paths: Iterable[str]) -> VehicleReading:
        """The vehicle's data for ``paths`` (v2 data paths) in ONE request to Smartcar (V3: every signal the
        vehicle reports is stored on the way, ``services.signals.record_signals``)."""
        ...

    def prepare_read(self, vehicle: Vehicle, paths: Iterable[str]) -> PreparedRead:
        """``read_data``'s request built but not sent, and its parser: the same request, the same reading."""
        ...

    def send_command(self, vehicle: Vehicle, action: str) -> CommandReply:
        """Send a ``VehicleCommand.Action`` to the car."""
        ...

    def disconnect(self, vehicle: Vehicle) -> bool:
        """Revoke the application's access to the vehicle at Smartcar; False when Smartcar no longer knew the
        connection (it is as disconnected as it can be)."""
        ...

    def subscribe(self, vehicle: Vehicle, webhook_id: str) -> None:
        """Subscribe the vehicle to the webhook."""
        ...

    def unsubscribe(self, vehicle: Vehicle, webhook_id: str) -> None:
        """Stop the webhook's deliveries for the vehicle (a no-op when the API needs credentials not set)."""
        ...


@dataclass(frozen=True)
class NewConnection:
    """A connection Connect just completed: whose it is, through which API, the v2 tokens (V3: none), and the
    ``AccountApi`` that reaches its vehicles before any account row exists."""

    smartcar_user_id: str
    api_version: str
    access: client.Access | None
    api: AccountApi


class ConnectApi(Protocol):
    """Completing Connect through the API new connections use."""

    api_version: str

    def complete(
        self, params: Mapping[str, str], redirect_uri: str, *, started_at: datetime
    ) -> NewConnection:
        """What Connect's redirect (its query ``params``) brings: the user, and v2's tokens from the code.

        ``started_at`` is when this Connect began (its state's creation): V3 believes the redirect's user id only
        for a connection made since then. A redirect that cannot complete (no code, a user id Smartcar does not
        confirm) raises ``InvalidConnectRequest`` with the message for the user."""
        ...


def account_api(account: SmartcarAccount) -> AccountApi:
    """The API the account's vehicles are reached through: the one place that reads ``account.api_version``."""
    from . import api_v2, api_v3  # they import this module's helpers

    if account.uses_v3:
        return api_v3.V3AccountApi.for_account(account)
    return api_v2.V2AccountApi.for_account(account)


def connect_api() -> ConnectApi:
    """The API new connections are made with: the one place that reads ``SMARTCAR["API_VERSION"]``."""
    from ..models import SmartcarAccount
    from . import api_v2, api_v3

    if str(smartcar_settings.API_VERSION) == SmartcarAccount.ApiVersion.V3:
        return api_v3.V3ConnectApi()
    return api_v2.V2ConnectApi()
