"""One connected vehicle: its data endpoints, its commands and batch requests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

from requests.structures import CaseInsensitiveDict

from .config import API_VERSION, UNIT_SYSTEMS, Origins, format_flags
from .exceptions import InvalidResponseException, SmartcarException, exception_from_body
from .management import unsubscribe
from .results import (
    ActionResult,
    Battery,
    BatteryCapacity,
    Charge,
    ChargeLimit,
    DiagnosticSystemStatus,
    DiagnosticTroubleCodes,
    EngineOil,
    Fuel,
    Location,
    LockStatus,
    Meta,
    NominalCapacity,
    Odometer,
    PermissionList,
    Permissions,
    Result,
    ResultT,
    ServiceHistory,
    TirePressure,
    VehicleAttributes,
    Vin,
    VinText,
    WebhookSubscription,
)
from .transport import ApiResponse, PreparedRequest, Transport, shared_transport
from .v3.results import Signal, Signals
from .v3.vehicles import VehicleApi

# The typed result of each path a batch can ask for; other paths give a plain Result.
BATCH_RESULT_TYPES: dict[str, type[Result]] = {
    "/": VehicleAttributes,
    "/vin": Vin,
    "/location": Location,
    "/odometer": Odometer,
    "/fuel": Fuel,
    "/battery": Battery,
    "/battery/capacity": BatteryCapacity,
    "/battery/nominal_capacity": NominalCapacity,
    "/charge": Charge,
    "/charge/limit": ChargeLimit,
    "/engine/oil": EngineOil,
    "/tires/pressure": TirePressure,
    "/security": LockStatus,
    "/permissions": Permissions,
    "/service/history": ServiceHistory,
    "/diagnostics/dtcs": DiagnosticTroubleCodes,
    "/diagnostics/system_status": DiagnosticSystemStatus,
}


def normalize_batch_path(path: str) -> str:
    """``"odometer"``, ``"/odometer/"`` -> ``"/odometer"``; ``""`` -> ``"/"`` (the attributes)."""
    return "/" + path.strip().strip("/")


def _check_unit_system(unit_system: str) -> str:
    if not isinstance(unit_system, str) or unit_system.lower() not in UNIT_SYSTEMS:
        raise ValueError(f"unit_system must be 'metric' or 'imperial', got {unit_system!r}")
    return unit_system.lower()


def batch_paths(paths: Iterable[str]) -> list[str]:
    """The paths a batch asks for: normalized, each once, in the order given (at least one)."""
    requested = list(dict.fromkeys(normalize_batch_path(path) for path in paths))
    if not requested:
        raise ValueError("batch needs at least one path, e.g. ['/odometer']")
    return requested


class BatchResult(Mapping[str, dict[str, Any]]):
    """The answers of one batch request, keyed by path (``"/odometer"``).

    Each item keeps the documented shape (``item["code"]``, ``item["body"]``, ``item["headers"]``);
    ``result(path)`` gives the typed result or raises that path's error, and ``errors`` lists the
    paths that failed.
    """

    def __init__(self, items: dict[str, dict[str, Any]], meta: Meta) -> None:
        self._items = items
        self.meta = meta

    @classmethod
    def from_response(cls, response: ApiResponse, requested: Iterable[str]) -> BatchResult:
        meta = Meta.from_headers(response.headers)
        answers = response.body.get("responses")
        if not isinstance(answers, list):
            raise InvalidResponseException(
                "The batch response has no 'responses' list", request_id=meta.request_id
            )
        items: dict[str, dict[str, Any]] = {}
        for answer in answers:
            if not isinstance(answer, Mapping) or not isinstance(answer.get("path"), str):
                raise InvalidResponseException(
                    "A batch response item has no 'path'", request_id=meta.request_id
                )
            raw_code: Any = answer.get("code")  # whatever Smartcar sent: int() refuses what is not a number
            try:
                code = int(raw_code)
            except (TypeError, ValueError) as exc:
                raise InvalidResponseException(
                    f"The batch item for {answer['path']!r} has no numeric 'code'",
                    request_id=meta.request_id,
                ) from exc
            headers = answer.get("headers")
            items[normalize_batch_path(answer["path"])] = {
                "code": code,
                "body": answer.get("body"),
                "headers": dict(headers) if isinstance(headers, Mapping) else {},
            }
        missing = [path for path in requested if path not in items]
        if missing:
            raise InvalidResponseException(
                f"The batch response has no answer for {', '.join(missing)}", request_id=meta.request_id
            )
        return cls(items, meta)

    def __getitem__(self, path: str) -> dict[str, Any]:
        return self._items[normalize_batch_path(path)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        codes = ", ".join(f"{path!r}: {item['code']}" for path, item in self._items.items())
        return f"BatchResult({{{codes}}})"

    def _item_headers(self, item: dict[str, Any]) -> CaseInsensitiveDict[str]:
        headers = CaseInsensitiveDict(item["headers"])
        # Items carry no request id of their own; the batch request's one is the useful reference.
        if "sc-request-id" not in headers and self.meta.request_id:
            headers["sc-request-id"] = self.meta.request_id
        return headers

    def _error(self, item: dict[str, Any]) -> SmartcarException | None:
        if 200 <= item["code"] < 300:
            return None
        return exception_from_body(item["code"], item["body"], self._item_headers(item))

    def result(self, path: str) -> Result:
        """The typed result for ``path``; raises that path's ``SmartcarException`` if it failed."""
        item = self[path]
        error = self._error(item)
        if error is not None:
            raise error
        result_type = BATCH_RESULT_TYPES.get(normalize_batch_path(path), Result)
        return result_type.from_body(item["body"], Meta.from_headers(self._item_headers(item)))

    @property
    def errors(self) -> dict[str, SmartcarException]:
        failures = {path: self._error(item) for path, item in self._items.items()}
        return {path: error for path, error in failures.items() if error is not None}


class Vehicle:
    """A vehicle the user connected, accessed with their access token.

    Method names follow the official 6.x SDK, with the 4.x names (``info``, ``oil``) kept as aliases.
    Reads are retried per the transport's policy; commands never are.
    """

    def __init__(
        self,
        vehicle_id: str,
        access_token: str,
        unit_system: str | Mapping[str, Any] = "metric",
        *,
        origins: Origins | None = None,
        transport: Transport | None = None,
    ) -> None:
        """``Vehicle(id, token)``, ``Vehicle(id, token, "imperial")`` (4.x) or ``Vehicle(id, token, options)``
        (6.x: ``{"unit_system": ..., "version": "2.0", "flags": {...}}``)."""
        if not vehicle_id or not isinstance(vehicle_id, str):
            raise ValueError("Vehicle needs a vehicle id")
        if not access_token or not isinstance(access_token, str):
            raise ValueError("Vehicle needs an access token")
        self.flags: str | None = None
        if isinstance(unit_system, Mapping):
            options = dict(unit_system)
            unknown = set(options) - {"unit_system", "version", "flags"}
            if unknown:
                raise ValueError(f"Unknown Vehicle option(s): {', '.join(sorted(unknown))}")
            if options.get("version") not in (None, API_VERSION):
                raise ValueError(f"This client speaks Smartcar API version {API_VERSION} only")
            self.flags = format_flags(options["flags"]) if options.get("flags") else None
            unit_system = options.get("unit_system") or "metric"
        self.vehicle_id = vehicle_id
        self.access_token = access_token
        self.unit_system = _check_unit_system(unit_system)
        self._origins = origins
        self._transport = transport

    @property
    def origins(self) -> Origins:
        return self._origins or self.transport.origins

    @property
    def transport(self) -> Transport:
        return self._transport or shared_transport()

    def __repr__(self) -> str:
        return f"Vehicle(vehicle_id={self.vehicle_id!r}, unit_system={self.unit_system!r})"

    def set_unit_system(self, unit_system: str) -> None:
        """Switch between ``"metric"`` and ``"imperial"`` for the following reads."""
        self.unit_system = _check_unit_system(unit_system)

    # --- plumbing -------------------------------------------------------------------------------

    def _url(self, path: str = "") -> str:
        vehicle_path = f"vehicles/{quote(self.vehicle_id, safe='')}"
        path = path.strip("/")
        return self.origins.api_url(f"{vehicle_path}/{path}" if path else vehicle_path)

    def _headers(self, with_units: bool) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.access_token}"}
        if with_units:
            headers["sc-unit-system"] = self.unit_system
        return headers

    def _params(self, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        merged = {**(params or {}), **({"flags": self.flags} if self.flags else {})}
        return merged or None

    def _get(self, path: str, result_type: type[ResultT], params: Mapping[str, Any] | None = None) -> ResultT:
        response = self.transport.send(
            "GET",
            self._url(path),
            headers=self._headers(with_units=True),
            params=self._params(params),
            retry_safe=True,
        )
        return result_type.from_body(response.body, Meta.from_headers(response.headers))

    def _command(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> ActionResult:
        response = self.transport.send(
            method,
            self._url(path),
            headers=self._headers(with_units=False),
            params=self._params(),
            json=body,
            retry_safe=False,
        )
        return ActionResult.from_body(response.body, Meta.from_headers(response.headers))

    # --- reads ----------------------------------------------------------------------------------

    def attributes(self) -> VehicleAttributes:
        """Id, make, model and year."""
        return self._get("", VehicleAttributes)

    def info(self) -> VehicleAttributes:
        """4.x name of ``attributes()``."""
        return self.attributes()

    def vin(self) -> VinText:
        """The VIN: a string, as the seeds' SDK returns it, that also has ``.vin``, ``.meta`` and ``.data``."""
        return VinText(self._get("vin", Vin))

    def location(self) -> Location:
        return self._get("location", Location)

    def odometer(self) -> Odometer:
        return self._get("odometer", Odometer)

    def fuel(self) -> Fuel:
        return self._get("fuel", Fuel)

    def battery(self) -> Battery:
        return self._get("battery", Battery)

    def battery_capacity(self) -> BatteryCapacity:
        return self._get("battery/capacity", BatteryCapacity)

    def nominal_capacity(self) -> NominalCapacity:
        """The battery's rated capacities (``read_battery``), as the 6.x SDK's ``nominal_capacity()``."""
        return self._get("battery/nominal_capacity", NominalCapacity)

    def charge(self) -> Charge:
        return self._get("charge", Charge)

    def get_charge_limit(self) -> ChargeLimit:
        return self._get("charge/limit", ChargeLimit)

    def engine_oil(self) -> EngineOil:
        return self._get("engine/oil", EngineOil)

    def oil(self) -> EngineOil:
        """4.x name of ``engine_oil()``."""
        return self.engine_oil()

    def service_history(self, start_date: str | None = None, end_date: str | None = None) -> ServiceHistory:
        """Service records (``read_service_history``), by default those of the last year; dates are
        ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM:SS.SSSZ``, as the 6.x SDK's ``service_history()``."""
        params = {
            key: value
            for key, value in (("startDate", start_date), ("endDate", end_date))
            if value is not None
        }
        return self._get("service/history", ServiceHistory, params=params or None)

    def diagnostic_trouble_codes(self) -> DiagnosticTroubleCodes:
        """The active trouble codes (``read_diagnostics``)."""
        return self._get("diagnostics/dtcs", DiagnosticTroubleCodes)

    def diagnostic_system_status(self) -> DiagnosticSystemStatus:
        """Each vehicle system OK or ALERT (``read_diagnostics``)."""
        return self._get("diagnostics/system_status", DiagnosticSystemStatus)

    def tire_pressure(self) -> TirePressure:
        return self._get("tires/pressure", TirePressure)

    def lock_status(self) -> LockStatus:
        return self._get("security", LockStatus)

    def permissions(
        self, limit: int | Mapping[str, int] | None = None, offset: int | None = None
    ) -> PermissionList:
        """One page of the permissions the user granted for this vehicle: a list of names, as the seeds'
        SDK returns it, that also has ``.permissions``, ``.paging`` and ``.meta``. The 6.x form
        ``permissions({"limit": 10, "offset": 0})`` works too."""
        if isinstance(limit, Mapping):
            paging = limit
            limit, offset = paging.get("limit"), paging.get("offset", offset)
        params = {key: value for key, value in (("limit", limit), ("offset", offset)) if value is not None}
        return PermissionList(self._get("permissions", Permissions, params=params or None))

    def has_permissions(self, permissions: str | Iterable[str]) -> bool:
        """Whether every given permission was granted (reads all pages of ``permissions()``)."""
        wanted = {permissions} if isinstance(permissions, str) else set(permissions)
        granted: set[str] = set()
        offset = 0
        while True:
            page = self.permissions(offset=offset or None)
            granted.update(page.permissions)
            offset += len(page.permissions)
            if not page.permissions or page.paging is None or offset >= page.paging.count:
                return wanted <= granted

    def batch(self, paths: Iterable[str]) -> BatchResult:
        """Read several paths in one request. A read, so retried like a GET."""
        requested = batch_paths(paths)
        return BatchResult.from_response(
            self.transport.send_prepared(self.batch_request(requested)), requested
        )

    def batch_request(self, paths: Iterable[str]) -> PreparedRequest:
        """The request ``batch`` sends, built but not sent: bulk work sends many at once (``client.aio``) and
        reads each answer with ``BatchResult.from_response(response, batch_paths(paths))``."""
        return PreparedRequest(
            "POST",
            self._url("batch"),
            headers=self._headers(with_units=True),
            params=self._params(),
            json={"requests": [{"path": path} for path in batch_paths(paths)]},
            retry_safe=True,
            secrets=(self.access_token,),
        )

    # --- commands (never retried: repeating a lock or charge command blindly is not safe) --------

    def lock(self) -> ActionResult:
        return self._command("POST", "security", {"action": "LOCK"})

    def unlock(self) -> ActionResult:
        return self._command("POST", "security", {"action": "UNLOCK"})

    def start_charge(self) -> ActionResult:
        return self._command("POST", "charge", {"action": "START"})

    def stop_charge(self) -> ActionResult:
        return self._command("POST", "charge", {"action": "STOP"})

    def set_charge_limit(self, limit: float) -> ActionResult:
        """``limit`` is a fraction: 0.8 means 80 %."""
        if isinstance(limit, bool) or not isinstance(limit, int | float) or not 0 < limit <= 1:
            raise ValueError(f"limit must be a fraction between 0 and 1 (0.8 for 80%), got {limit!r}")
        return self._command("POST", "charge/limit", {"limit": limit})

    def send_destination(self, latitude: float, longitude: float) -> ActionResult:
        for name, value, bound in (("latitude", latitude, 90), ("longitude", longitude, 180)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not -bound <= value <= bound:
                raise ValueError(f"{name} must be a number between -{bound} and {bound}, got {value!r}")
        return self._command("POST", "navigation/destination", {"latitude": latitude, "longitude": longitude})

    def disconnect(self) -> ActionResult:
        """Revoke this application's access to the vehicle; the access token stops working for it."""
        return self._command("DELETE", "application")

    # --- webhooks -------------------------------------------------------------------------------

    def subscribe(self, webhook_id: str) -> WebhookSubscription:
        response = self.transport.send(
            "POST",
            self._url(f"webhooks/{quote(webhook_id, safe='')}"),
            headers=self._headers(with_units=False),
            retry_safe=False,
        )
        return WebhookSubscription.from_body(response.body, Meta.from_headers(response.headers))

    def unsubscribe(self, amt: str, webhook_id: str) -> ActionResult:
        """Unsubscribe from a webhook; authenticated with the Application Management Token, not the user's."""
        return unsubscribe(amt, self.vehicle_id, webhook_id, origins=self.origins, transport=self.transport)

    # --- API V3 signals with this user's token (the official SDK 6.x's calls) -------------------

    def _v3(self) -> VehicleApi:
        return VehicleApi(
            self.access_token, transport=self.transport, unit_system=self.unit_system, origins=self._origins
        )

    def get_signals(self) -> Signals:
        """``GET /v3/vehicles/{id}/signals`` with this vehicle's access token, as the official SDK 6.x's
        ``get_signals()``: reads like its answer (``["body"]``, ``["headers"]``) and as ``v3.Signals``."""
        return self._v3().get_signals(self.vehicle_id, params=self._params())

    def get_signal(self, signal_code: str) -> Signal:
        """``GET /v3/vehicles/{id}/signals/{code}``, as the official SDK 6.x's ``get_signal(code)``."""
        return self._v3().get_signal(self.vehicle_id, signal_code, params=self._params())

    # --- anything else --------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Result:
        """Call any path under this vehicle (e.g. brand-specific endpoints). Only GETs are retried.

        ``headers`` are added to this call only; an ``Authorization`` among them replaces the vehicle's.
        """
        method = method.upper()
        request_headers = CaseInsensitiveDict(self._headers(with_units=method == "GET"))
        request_headers.update(headers or {})
        response = self.transport.send(
            method,
            self._url(path),
            headers=request_headers,
            json=body,
            retry_safe=method == "GET",
        )
        return Result.from_body(response.body, Meta.from_headers(response.headers))
