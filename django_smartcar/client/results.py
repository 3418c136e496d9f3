"""What the client returns: typed results that also read like the dictionaries of the SDK docs.

Each result is a frozen dataclass with snake_case attributes (``r.percent_remaining``) and ``meta``
(request id, data age, unit system). It is also a read-only mapping in the documented SDK shape, so
``r["data"]["percentRemaining"]``, ``r["age"]`` and ``r["unit_system"]`` work, and any body field can be
read directly (``info()["make"]``, ``lock()["status"]``, ``get_vehicle_ids(t)["paging"]["count"]``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, SupportsIndex, TypeVar

from .config import REFRESH_TOKEN_LIFETIME
from .exceptions import InvalidResponseException

ResultT = TypeVar("ResultT", bound="Result")

# Keys of the SDK docs' dictionary shape, answered from the body and meta rather than the body's own keys.
SEED_KEYS = ("data", "age", "unit_system")


def parse_datetime(value: object) -> datetime | None:
    """An aware UTC datetime from an ISO 8601 string (``Z`` accepted, naive read as UTC), else None."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value:
        text = value.strip()
        if text.endswith(("Z", "z")):
            # fromisoformat() only accepts "Z" from Python 3.11 on.
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def parse_timestamp(value: object) -> datetime | None:
    """An aware UTC datetime from an API V3 / webhook v4 time: epoch milliseconds (an int, or digits in a
    string), or an ISO 8601 string. ``0`` (the times of a static signal such as the VIN), booleans and anything
    unreadable are None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, int | float):
        if not value > 0:
            return None
        try:
            return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    return parse_datetime(value)


def _camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


@dataclass(frozen=True)
class Meta:
    """Facts about a response taken from Smartcar's ``sc-*`` headers."""

    request_id: str | None = None
    data_age: datetime | None = None
    unit_system: str | None = None
    fetched_at: datetime | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Meta:
        """``headers`` must look keys up case-insensitively, as requests' headers do."""
        return cls(
            request_id=headers.get("sc-request-id") or None,
            data_age=parse_datetime(headers.get("sc-data-age")),
            unit_system=headers.get("sc-unit-system") or None,
            fetched_at=parse_datetime(headers.get("sc-fetched-at")),
        )


@dataclass(frozen=True, kw_only=True, eq=False)
class Result(Mapping[str, Any]):
    """Base of every response type; used as is for ``Vehicle.request()`` answers.

    Subclasses declare their body fields; each field's JSON key is its camelCase name unless the
    field's metadata names a ``key``; a ``parse`` in the metadata converts the raw value. Fields without
    a default are required: a body without them raises ``InvalidResponseException``.
    """

    data: dict[str, Any] = field(repr=False)
    meta: Meta = field(default_factory=Meta)

    BASE_FIELDS: ClassVar[tuple[str, ...]] = ("data", "meta")

    @classmethod
    def from_body(cls: type[ResultT], body: object, meta: Meta | None = None) -> ResultT:
        if not isinstance(body, Mapping):
            raise InvalidResponseException(
                f"Expected a JSON object for {cls.__name__}, got {type(body).__name__}",
                request_id=meta.request_id if meta else None,
            )
        values: dict[str, Any] = {}
        for body_field in dataclasses.fields(cls):
            if body_field.name in cls.BASE_FIELDS:
                continue
            key = body_field.metadata.get("key", _camel_case(body_field.name))
            has_default = (
                body_field.default is not dataclasses.MISSING
                or body_field.default_factory is not dataclasses.MISSING
            )
            if key not in body:
                if not has_default:
                    raise InvalidResponseException(
                        f"{cls.__name__} response is missing the {key!r} field",
                        request_id=meta.request_id if meta else None,
                    )
                continue
            parse = body_field.metadata.get("parse")
            try:
                values[body_field.name] = parse(body[key]) if parse else body[key]
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                raise InvalidResponseException(
                    f"{cls.__name__} response has an unreadable {key!r} field",
                    request_id=meta.request_id if meta else None,
                ) from exc
        return cls(data=dict(body), meta=meta or Meta(), **values)

    # Mapping interface: the SDK docs' dictionary shape.
    def __getitem__(self, key: str) -> Any:
        if key == "data":
            return self.data
        if key == "age":
            return self.meta.data_age
        if key == "unit_system":
            return self.meta.unit_system
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        yield from SEED_KEYS
        yield from (key for key in self.data if key not in SEED_KEYS)

    def __len__(self) -> int:
        return len(SEED_KEYS) + sum(1 for key in self.data if key not in SEED_KEYS)


@dataclass(frozen=True)
class Paging:
    count: int
    offset: int

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Paging:
        return cls(count=int(body["count"]), offset=int(body["offset"]))


@dataclass(frozen=True)
class Capability:
    permission: str
    endpoint: str | None
    capable: bool
    reason: str | None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Capability:
        return cls(
            permission=body["permission"],
            endpoint=body.get("endpoint"),
            capable=bool(body["capable"]),
            reason=body.get("reason"),
        )


@dataclass(frozen=True)
class Connection:
    """One vehicle connected to the application (management API)."""

    vehicle_id: str
    user_id: str | None
    # Absent from a delete's answer, which names the connections only.
    connected_at: datetime | None
    # "live" or "simulated" (None when Smartcar does not say, as in a delete's answer).
    mode: str | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Connection:
        mode = body.get("mode")
        return cls(
            vehicle_id=body["vehicleId"],
            user_id=body.get("userId"),
            connected_at=parse_datetime(body.get("connectedAt")),
            mode=mode if isinstance(mode, str) and mode else None,
        )


def _capabilities(items: Any) -> list[Capability]:
    return [Capability.from_body(item) for item in items]


def _connections(items: Any) -> list[Connection]:
    return [Connection.from_body(item) for item in items]


def _cursor(paging: object) -> str | None:
    return paging.get("cursor") if isinstance(paging, Mapping) else None


@dataclass(frozen=True, kw_only=True, eq=False)
class User(Result):
    id: str


@dataclass(frozen=True, kw_only=True, eq=False)
class VehicleList(Result):
    vehicles: list[str]
    paging: Paging = field(metadata={"parse": Paging.from_body})


@dataclass(frozen=True, kw_only=True, eq=False)
class Compatibility(Result):
    compatible: bool
    reason: str | None = None
    capabilities: list[Capability] = field(default_factory=list, metadata={"parse": _capabilities})


@dataclass(frozen=True, kw_only=True, eq=False)
class VehicleAttributes(Result):
    id: str
    make: str
    model: str
    year: int


@dataclass(frozen=True, kw_only=True, eq=False)
class Vin(Result):
    vin: str


@dataclass(frozen=True, kw_only=True, eq=False)
class Location(Result):
    latitude: float
    longitude: float


@dataclass(frozen=True, kw_only=True, eq=False)
class Odometer(Result):
    distance: float


@dataclass(frozen=True, kw_only=True, eq=False)
class Fuel(Result):
    range: float | None = None
    percent_remaining: float | None = None
    amount_remaining: float | None = None


@dataclass(frozen=True, kw_only=True, eq=False)
class Battery(Result):
    range: float | None = None
    percent_remaining: float


@dataclass(frozen=True, kw_only=True, eq=False)
class BatteryCapacity(Result):
    capacity: float


@dataclass(frozen=True)
class AvailableCapacity:
    capacity: float | None
    description: str | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> AvailableCapacity:
        return cls(capacity=body.get("capacity"), description=body.get("description"))


@dataclass(frozen=True)
class SelectedCapacity:
    nominal: float | None
    source: str | None = None  # SMARTCAR or USER_SELECTED

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> SelectedCapacity:
        return cls(nominal=body.get("nominal"), source=body.get("source"))


def _available_capacities(items: Any) -> list[AvailableCapacity]:
    return [AvailableCapacity.from_body(item) for item in items or []]


def _selected_capacity(body: Any) -> SelectedCapacity | None:
    return SelectedCapacity.from_body(body) if body is not None else None


@dataclass(frozen=True, kw_only=True, eq=False)
class NominalCapacity(Result):
    """``GET /battery/nominal_capacity``: the rated capacities, the one in use (None when Smartcar could not
    tell), and a Connect URL for the owner to pick one (append a redirect URI)."""

    available_capacities: list[AvailableCapacity] = field(
        default_factory=list, metadata={"parse": _available_capacities}
    )
    capacity: SelectedCapacity | None = field(default=None, metadata={"parse": _selected_capacity})
    url: str | None = None


@dataclass(frozen=True)
class DiagnosticSystem:
    system_id: str
    status: str  # OK or ALERT
    description: str | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> DiagnosticSystem:
        # The reference names it systemID in its field list and systemId in its example: both are read.
        system_id = body.get("systemId", body.get("systemID"))
        if not isinstance(system_id, str):
            raise ValueError("a system without systemId")
        return cls(system_id=system_id, status=str(body["status"]), description=body.get("description"))


def _systems(items: Any) -> list[DiagnosticSystem]:
    return [DiagnosticSystem.from_body(item) for item in items]


@dataclass(frozen=True, kw_only=True, eq=False)
class DiagnosticSystemStatus(Result):
    systems: list[DiagnosticSystem] = field(metadata={"parse": _systems})


@dataclass(frozen=True)
class DiagnosticTroubleCode:
    code: str
    timestamp: datetime | None = None  # when it last became active

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> DiagnosticTroubleCode:
        if not isinstance(body.get("code"), str):
            raise ValueError("a trouble code without code")
        return cls(code=body["code"], timestamp=parse_datetime(body.get("timestamp")))


def _trouble_codes(items: Any) -> list[DiagnosticTroubleCode]:
    return [DiagnosticTroubleCode.from_body(item) for item in items]


@dataclass(frozen=True, kw_only=True, eq=False)
class DiagnosticTroubleCodes(Result):
    active_codes: list[DiagnosticTroubleCode] = field(metadata={"parse": _trouble_codes})


@dataclass(frozen=True)
class ServiceRecord:
    """One service event; ``data`` keeps the record as sent (tasks, details, cost)."""

    service_id: str | None
    service_date: datetime | None
    odometer_distance: float | None  # kilometres
    service_tasks: list[dict[str, Any]]
    service_details: list[dict[str, Any]]
    service_cost: dict[str, Any] | None
    data: dict[str, Any] = field(repr=False)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ServiceRecord:
        odometer = body.get("odometerDistance")
        return cls(
            # The reference's field list says serviceID, its example serviceId.
            service_id=body.get("serviceId", body.get("serviceID")),
            service_date=parse_datetime(body.get("serviceDate")),
            # Documented as "string | null", sent as a number in the example: both are read.
            odometer_distance=float(odometer) if odometer is not None else None,
            service_tasks=list(body.get("serviceTasks") or []),
            service_details=list(body.get("serviceDetails") or []),
            service_cost=dict(body["serviceCost"]) if isinstance(body.get("serviceCost"), Mapping) else None,
            data=dict(body),
        )


@dataclass(frozen=True, kw_only=True, eq=False)
class ServiceHistory(Result):
    """``GET /service/history``: the service records. Smartcar answers an array (the official SDK reads it so);
    the reference's example shows one record as an object; ``{"items": [...]}`` is read too. ``data`` is
    ``{"items": [...]}`` whatever the shape. The records are ``records`` (the official SDK's ``items`` would
    hide the mapping's ``items()``)."""

    records: list[ServiceRecord] = field(default_factory=list)

    @classmethod
    def from_body(cls, body: object, meta: Meta | None = None) -> ServiceHistory:
        if isinstance(body, list):
            records: Any = body
        elif isinstance(body, Mapping) and isinstance(body.get("items"), list):
            records = body["items"]
        elif isinstance(body, Mapping):
            records = [body]
        else:
            raise InvalidResponseException(
                f"Expected a JSON array for ServiceHistory, got {type(body).__name__}",
                request_id=meta.request_id if meta else None,
            )
        try:
            items = [ServiceRecord.from_body(record) for record in records]
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise InvalidResponseException(
                "ServiceHistory response has an unreadable record",
                request_id=meta.request_id if meta else None,
            ) from exc
        return cls(data={"items": list(records)}, meta=meta or Meta(), records=items)


@dataclass(frozen=True, kw_only=True, eq=False)
class Charge(Result):
    is_plugged_in: bool
    state: str


@dataclass(frozen=True, kw_only=True, eq=False)
class ChargeLimit(Result):
    limit: float


@dataclass(frozen=True, kw_only=True, eq=False)
class EngineOil(Result):
    life_remaining: float


@dataclass(frozen=True, kw_only=True, eq=False)
class TirePressure(Result):
    front_left: float | None
    front_right: float | None
    back_left: float | None
    back_right: float | None


@dataclass(frozen=True, kw_only=True, eq=False)
class LockStatus(Result):
    is_locked: bool
    doors: list[dict[str, Any]] = field(default_factory=list)
    windows: list[dict[str, Any]] = field(default_factory=list)
    sunroof: list[dict[str, Any]] = field(default_factory=list)
    storage: list[dict[str, Any]] = field(default_factory=list)
    charging_port: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True, eq=False)
class ActionResult(Result):
    """Answer to a command (lock, charge, navigation, disconnect, unsubscribe)."""

    status: str
    message: str | None = None


@dataclass(frozen=True, kw_only=True, eq=False)
class Permissions(Result):
    permissions: list[str]
    paging: Paging | None = field(default=None, metadata={"parse": Paging.from_body})


@dataclass(frozen=True, kw_only=True, eq=False)
class WebhookSubscription(Result):
    webhook_id: str
    vehicle_id: str


@dataclass(frozen=True, kw_only=True, eq=False)
class Connections(Result):
    """A page of the management API's connection list; pass ``cursor`` back for the next page."""

    connections: list[Connection] = field(metadata={"parse": _connections})
    cursor: str | None = field(default=None, metadata={"key": "paging", "parse": _cursor})


@dataclass(frozen=True, kw_only=True, eq=False)
class DeletedConnections(Result):
    connections: list[Connection] = field(metadata={"parse": _connections})


@dataclass(frozen=True, kw_only=True, eq=False)
class Access(Mapping[str, Any]):
    """Tokens from the token endpoint, readable as ``access.access_token`` or ``access["access_token"]``.

    ``repr()`` and ``str()`` leave the tokens out so an access object can be logged safely.
    """

    access_token: str = field(repr=False)
    token_type: str
    expires_in: int
    expiration: datetime
    refresh_token: str = field(repr=False)
    refresh_expiration: datetime

    @classmethod
    def from_token_response(cls, body: object, now: datetime | None = None) -> Access:
        # Error messages here name fields only: the body holds live tokens.
        if not isinstance(body, Mapping):
            raise InvalidResponseException("The token endpoint did not answer with a JSON object")
        missing = [key for key in ("access_token", "refresh_token", "expires_in") if not body.get(key)]
        if missing:
            raise InvalidResponseException(f"The token response is missing {', '.join(missing)}")
        try:
            expires_in = int(body["expires_in"])
            refresh_lifetime = (
                timedelta(seconds=int(body["refresh_expires_in"]))
                if body.get("refresh_expires_in")
                else REFRESH_TOKEN_LIFETIME
            )
        except (TypeError, ValueError) as exc:
            raise InvalidResponseException("The token response has a non-numeric lifetime") from exc
        now = now or datetime.now(timezone.utc)
        return cls(
            access_token=str(body["access_token"]),
            token_type=str(body.get("token_type") or "Bearer"),
            expires_in=expires_in,
            expiration=now + timedelta(seconds=expires_in),
            refresh_token=str(body["refresh_token"]),
            refresh_expiration=now + refresh_lifetime,
        )

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    @classmethod
    def _keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))


class VinText(str):
    """``vehicle.vin()``: the VIN as the seeds return it (a string), keeping the typed result's access.

    ``vehicle.vin() == "5YJ..."`` and string methods work as in the seeds' SDK; ``.vin``, ``.meta`` and ``.data``
    (and ``["vin"]``, ``["age"]``...) read like every other result.
    """

    result: Vin

    def __new__(cls, result: Vin) -> VinText:
        text = super().__new__(cls, result.vin)
        text.result = result
        return text

    @property
    def vin(self) -> str:
        return str(self)

    @property
    def meta(self) -> Meta:
        return self.result.meta

    @property
    def data(self) -> dict[str, Any]:
        return self.result.data

    def __getitem__(self, key: SupportsIndex | slice | str) -> Any:
        """A string key reads the result (``["vin"]``, ``["age"]``); an index or a slice reads the text."""
        if isinstance(key, str):
            return self.result[key]
        return str.__getitem__(self, key)


class PermissionList(list[str]):
    """``vehicle.permissions()``: the granted permissions as the list the seeds return, keeping typed access.

    Iterating, ``len()``, ``in`` and ``== [...]`` see the permission names; ``.permissions``, ``.paging``,
    ``.meta`` and ``.data`` (and ``["paging"]``) read like every other result.
    """

    result: Permissions

    def __init__(self, result: Permissions) -> None:
        super().__init__(result.permissions)
        self.result = result

    @property
    def permissions(self) -> list[str]:
        return list(self)

    @property
    def paging(self) -> Paging | None:
        return self.result.paging

    @property
    def meta(self) -> Meta:
        return self.result.meta

    @property
    def data(self) -> dict[str, Any]:
        return self.result.data

    def __getitem__(self, key: SupportsIndex | slice | str) -> Any:
        """A string key reads the result (``["permissions"]``, ``["paging"]``); an index or a slice, the list."""
        if isinstance(key, str):
            return self.result[key]
        return list.__getitem__(self, key)
