"""Smartcar's Vehicle API V3: connections, vehicles, signals and the unified commands.

Requests carry the application token (``Authorization: Bearer``) and, for a vehicle's signals and commands,
the Smartcar user they are made for (``sc-user-id``). Signals are reads (retried per the transport's rule);
commands are never sent twice, except after a 401 with an ``ApplicationToken`` (see ``calls``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..config import UNIT_SYSTEMS, Origins
from ..transport import COMMAND, MANAGEMENT, READ, PreparedRequest, Transport
from .calls import TokenCaller, TokenSource, filter_params, iterate_pages, page_params, path_segment
from .results import CommandExecution, Connection, Page, Signal, Signals, VehicleInfo, page_from_document

USER_ID_HEADER = "sc-user-id"
UNIT_SYSTEM_HEADER = "SC-Unit-System"

# The command paths of the Vehicle API V3 (POST /vehicles/{id}/commands/<path>).
LOCK, UNLOCK = "security/lock", "security/unlock"
START_CHARGE, STOP_CHARGE, SET_CHARGE_LIMIT = "charge/start", "charge/stop", "charge/set-limit"
SET_DESTINATION = "navigation/set-destination"
COMMAND_PATHS = (LOCK, UNLOCK, START_CHARGE, STOP_CHARGE, SET_CHARGE_LIMIT, SET_DESTINATION)


def _number(value: object, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(f"{name} must be a number between {low:g} and {high:g}, got {value!r}")
    return value


class VehicleApi:
    """The Vehicle API V3 with one token source: an ``ApplicationToken`` (renewed as needed, and a 401 answered
    by one resend with a new token), a token string or a callable returning one.

    A per-user v2 access token works as well for a vehicle's signals and ``get_vehicle`` (what the official SDK
    6.x sends): give it as the token and no ``user_id``.
    """

    def __init__(
        self,
        token: TokenSource,
        *,
        transport: Transport | None = None,
        unit_system: str = "metric",
        origins: Origins | None = None,
    ) -> None:
        if unit_system not in UNIT_SYSTEMS:
            raise ValueError(f"unit_system must be one of {', '.join(UNIT_SYSTEMS)}, got {unit_system!r}")
        self.unit_system = unit_system
        self._caller = TokenCaller(token, transport=transport, origins=origins)

    def __repr__(self) -> str:
        return f"VehicleApi(unit_system={self.unit_system!r})"

    @property
    def transport(self) -> Transport:
        return self._caller.transport

    def _url(self, path: str) -> str:
        return self._caller.origins.vehicle_v3_url(path)

    def _headers(self, user_id: str | None, *, units: bool = False) -> dict[str, str]:
        headers: dict[str, str] = {}
        if user_id is not None:
            if not user_id or not isinstance(user_id, str):
                raise ValueError("user_id must be the Smartcar user id (a non-empty string)")
            headers[USER_ID_HEADER] = user_id
        if units:
            headers[UNIT_SYSTEM_HEADER] = self.unit_system
        return headers

    # --- connections ----------------------------------------------------------------------------

    def list_connections(
        self,
        *,
        user_id: str | None = None,
        vehicle_id: str | None = None,
        mode: str | None = None,
        external_id: str | None = None,
        page: int = 1,
        page_size: int | None = None,
    ) -> Page[Connection]:
        """One page of the application's connections (newest first), filtered by user, vehicle, mode
        (``live`` / ``simulated``) or the user's external id."""
        params = filter_params(
            {"userId": user_id, "vehicleId": vehicle_id, "vehicle.mode": mode, "user.externalId": external_id}
        )
        params.update(page_params(page, page_size))
        response = self._caller.send(
            "GET", self._url("connections"), params=params, call=MANAGEMENT, retry_safe=True
        )
        return page_from_document(
            response.body,
            response.headers,
            Connection.from_resource,
            requested_page=page,
            requested_size=page_size,
            what="connections",
        )

    def iter_connections(
        self,
        *,
        user_id: str | None = None,
        vehicle_id: str | None = None,
        mode: str | None = None,
        external_id: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[Connection]:
        """Every connection matching the filters, page after page."""
        return iterate_pages(
            lambda page: self.list_connections(
                user_id=user_id,
                vehicle_id=vehicle_id,
                mode=mode,
                external_id=external_id,
                page=page,
                page_size=page_size,
            )
        )

    def get_connection(self, connection_id: str) -> Connection:
        url = self._url(f"connections/{path_segment(connection_id, 'connection_id')}")
        response = self._caller.send("GET", url, call=MANAGEMENT, retry_safe=True)
        return Connection.from_document(response.body, response.headers)

    def delete_connection(self, connection_id: str) -> None:
        """Remove one connection (the user's other vehicles stay connected)."""
        url = self._url(f"connections/{path_segment(connection_id, 'connection_id')}")
        self._caller.send("DELETE", url, call=MANAGEMENT, retry_safe=False)

    def delete_user(self, user_id: str) -> None:
        """Remove a user and every connection of theirs."""
        url = self._url(f"users/{path_segment(user_id, 'user_id')}")
        self._caller.send("DELETE", url, call=MANAGEMENT, retry_safe=False)

    # --- vehicle and signals --------------------------------------------------------------------

    def get_vehicle(self, vehicle_id: str) -> VehicleInfo:
        """Make, model, year, powertrain and mode (no ``sc-user-id``: Smartcar does not declare it here)."""
        url = self._url(f"vehicles/{path_segment(vehicle_id, 'vehicle_id')}")
        response = self._caller.send("GET", url, call=MANAGEMENT, retry_safe=True)
        return VehicleInfo.from_document(response.body, response.headers)

    def get_signals(
        self, vehicle_id: str, user_id: str | None = None, *, params: Mapping[str, Any] | None = None
    ) -> Signals:
        """Every signal the vehicle reports, in one request (each with its own status: one failed signal
        never fails the read)."""
        url = self._url(f"vehicles/{path_segment(vehicle_id, 'vehicle_id')}/signals")
        response = self._caller.send(
            "GET", url, headers=self._headers(user_id, units=True), params=params, call=READ, retry_safe=True
        )
        return Signals.from_document(response.body, response.headers)

    def signals_request(
        self, vehicle_id: str, user_id: str | None = None, *, params: Mapping[str, Any] | None = None
    ) -> PreparedRequest:
        """The request ``get_signals`` sends, built but not sent (bulk work sends many at once, ``client.aio``);
        read its answer with ``Signals.from_document(response.body, response.headers)``."""
        url = self._url(f"vehicles/{path_segment(vehicle_id, 'vehicle_id')}/signals")
        return self._caller.prepare(
            "GET", url, headers=self._headers(user_id, units=True), params=params, call=READ, retry_safe=True
        )

    def get_signal(
        self,
        vehicle_id: str,
        signal_code: str,
        user_id: str | None = None,
        *,
        params: Mapping[str, Any] | None = None,
    ) -> Signal:
        """One signal by code (``closure-islocked``); a code the vehicle does not have answers 404
        (``ResourceNotFoundException``)."""
        url = self._url(
            f"vehicles/{path_segment(vehicle_id, 'vehicle_id')}/signals/{path_segment(signal_code, 'signal_code')}"
        )
        response = self._caller.send(
            "GET", url, headers=self._headers(user_id, units=True), params=params, call=READ, retry_safe=True
        )
        return Signal.from_document(response.body, response.headers)

    # --- commands (never sent twice, but after a 401 with an ApplicationToken) ------------------

    def send_command(
        self,
        vehicle_id: str,
        user_id: str,
        command_path: str,
        attributes: Mapping[str, Any] | None = None,
    ) -> CommandExecution:
        """``POST /vehicles/{id}/commands/{command_path}``, with ``{"data": {"attributes": ...}}`` when the
        command takes parameters. Smartcar answers ``200`` when the car did it at once, else ``202`` held open
        until the final result: both are read (``http_status`` says which)."""
        if not command_path or not isinstance(command_path, str):
            raise ValueError("command_path is required, e.g. 'security/lock'")
        path = "/".join(path_segment(part, "command_path") for part in command_path.strip("/").split("/"))
        url = self._url(f"vehicles/{path_segment(vehicle_id, 'vehicle_id')}/commands/{path}")
        if user_id is None:
            raise ValueError("Commands need the Smartcar user id (user_id)")
        response = self._caller.send(
            "POST",
            url,
            headers=self._headers(user_id),
            json={"data": {"attributes": dict(attributes)}} if attributes else None,
            call=COMMAND,
            retry_safe=False,
        )
        return CommandExecution.from_document(
            response.body, response.headers, http_status=response.status_code
        )

    def lock(self, vehicle_id: str, user_id: str) -> CommandExecution:
        return self.send_command(vehicle_id, user_id, LOCK)

    def unlock(self, vehicle_id: str, user_id: str) -> CommandExecution:
        return self.send_command(vehicle_id, user_id, UNLOCK)

    def start_charge(self, vehicle_id: str, user_id: str) -> CommandExecution:
        return self.send_command(vehicle_id, user_id, START_CHARGE)

    def stop_charge(self, vehicle_id: str, user_id: str) -> CommandExecution:
        return self.send_command(vehicle_id, user_id, STOP_CHARGE)

    def set_charge_limit(self, vehicle_id: str, user_id: str, percent: float) -> CommandExecution:
        """``percent`` from 0 to 100 as in every V3 answer (v2's ``set_charge_limit`` takes a fraction)."""
        _number(percent, "percent", 0, 100)
        if 0 < percent <= 1 and not float(percent).is_integer():
            raise ValueError(f"percent is 0-100 in API V3 (80 for 80%), got the fraction {percent!r}")
        return self.send_command(vehicle_id, user_id, SET_CHARGE_LIMIT, {"percent": percent})

    def set_destination(
        self, vehicle_id: str, user_id: str, latitude: float, longitude: float
    ) -> CommandExecution:
        _number(latitude, "latitude", -90, 90)
        _number(longitude, "longitude", -180, 180)
        return self.send_command(
            vehicle_id, user_id, SET_DESTINATION, {"latitude": latitude, "longitude": longitude}
        )

    def vehicle(self, vehicle_id: str, user_id: str) -> UserVehicle:
        """The calls about one vehicle, for one user."""
        return UserVehicle(vehicle_id, user_id, self)


class UserVehicle:
    """One vehicle as one Smartcar user connected it: the ``VehicleApi`` calls without repeating the ids."""

    def __init__(self, vehicle_id: str, user_id: str, api: VehicleApi) -> None:
        if not vehicle_id or not isinstance(vehicle_id, str):
            raise ValueError("UserVehicle needs a vehicle id")
        if not user_id or not isinstance(user_id, str):
            raise ValueError("UserVehicle needs the Smartcar user id")
        self.vehicle_id = vehicle_id
        self.user_id = user_id
        self.api = api

    def __repr__(self) -> str:
        return f"UserVehicle(vehicle_id={self.vehicle_id!r}, user_id={self.user_id!r})"

    def info(self) -> VehicleInfo:
        return self.api.get_vehicle(self.vehicle_id)

    def signals(self) -> Signals:
        return self.api.get_signals(self.vehicle_id, self.user_id)

    def signal(self, code: str) -> Signal:
        return self.api.get_signal(self.vehicle_id, code, self.user_id)

    def lock(self) -> CommandExecution:
        return self.api.lock(self.vehicle_id, self.user_id)

    def unlock(self) -> CommandExecution:
        return self.api.unlock(self.vehicle_id, self.user_id)

    def start_charge(self) -> CommandExecution:
        return self.api.start_charge(self.vehicle_id, self.user_id)

    def stop_charge(self) -> CommandExecution:
        return self.api.stop_charge(self.vehicle_id, self.user_id)

    def set_charge_limit(self, percent: float) -> CommandExecution:
        return self.api.set_charge_limit(self.vehicle_id, self.user_id, percent)

    def set_destination(self, latitude: float, longitude: float) -> CommandExecution:
        return self.api.set_destination(self.vehicle_id, self.user_id, latitude, longitude)

    def send_command(
        self, command_path: str, attributes: Mapping[str, Any] | None = None
    ) -> CommandExecution:
        return self.api.send_command(self.vehicle_id, self.user_id, command_path, attributes)

    def connections(self) -> list[Connection]:
        """This user's connections of this vehicle."""
        return list(self.api.iter_connections(user_id=self.user_id, vehicle_id=self.vehicle_id))


def get_vehicle(
    access_token: str,
    vehicle_id: str,
    *,
    transport: Transport | None = None,
    origins: Origins | None = None,
) -> VehicleInfo:
    """The official SDK 6.x's ``smartcar.get_vehicle(access_token, vehicle_id)``: ``GET /v3/vehicles/{id}``
    with the given token. Reads like its answer (``["body"]["data"]["attributes"]``) and as a ``VehicleInfo``."""
    if not access_token or not isinstance(access_token, str):
        raise ValueError("get_vehicle needs an access token")
    return VehicleApi(access_token, transport=transport, origins=origins).get_vehicle(vehicle_id)
