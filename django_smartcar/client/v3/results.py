"""What the V3 client returns: typed results that still read like the documented JSON:API bodies.

Every result has snake_case attributes (``signal.retrieved_at``, ``connection.user_id``) and ``raw``, the JSON
resource it was read from. It also reads like the body Smartcar sent (``signals["data"][0]["attributes"]``,
``vehicle["data"]["attributes"]["make"]``) and like the official SDK 6.x's v3 ``Response``: ``["body"]`` is the
whole decoded body, ``["headers"]`` the response headers.

Smartcar's documents and captures disagree on a few shapes; each is read: times as epoch milliseconds, ISO 8601
strings or ``0`` (no time), ``meta.retrievedAt`` / ``fetchedAt`` / ``ingestedAt``, a signal bare or wrapped
in ``data``, a status as ``{"value": ...}`` or a plain string, or absent as in the Oct-2025 webhook captures.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar, overload

from ..exceptions import InvalidResponseException
from ..results import parse_timestamp

SUCCESS, ERROR, UNAVAILABLE = "SUCCESS", "ERROR", "UNAVAILABLE"
SIGNAL_STATUSES = (SUCCESS, ERROR, UNAVAILABLE)

# The spellings Smartcar's documents use for the units its real answers spell differently (see the protocol
# notes, S3), each mapped to the one the real answers use.
UNIT_ALIASES: dict[str, str] = {
    "kilometers": "km",
    "kilometer": "km",
    "kilometres": "km",
    "mile": "miles",
    "amps": "ampere",
    "amp": "ampere",
    "amperes": "ampere",
    "kilowatt_hours": "kWh",
    "kilowatt_hour": "kWh",
    "kwhr": "kWh",
    "kwh": "kWh",
    "kilometers_per_hour": "km/h",
    "kph": "km/h",
    "miles_per_hour": "mph",
    "watt": "watts",
    "volt": "volts",
    "litres": "liters",
    "liter": "liters",
    "gallon": "gallons",
    "%": "percent",
}


def normalize_unit(unit: object) -> str | None:
    """A signal body's ``unit`` in the spelling of Smartcar's real answers (``kilometers`` -> ``km``)."""
    if not isinstance(unit, str) or not unit.strip():
        return None
    text = unit.strip()
    return UNIT_ALIASES.get(text, UNIT_ALIASES.get(text.lower(), text))


def _mapping(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _related_id(resource: Mapping[str, Any], name: str) -> str | None:
    """``relationships.<name>.data.id`` of a JSON:API resource."""
    relation = _mapping(_mapping(resource.get("relationships")).get(name))
    return _str(_mapping(relation.get("data")).get("id"))


def _status(value: object) -> tuple[str | None, dict[str, Any] | None]:
    """A status as ``{"value": "ERROR", "error": {...}}`` or as a plain string."""
    if isinstance(value, Mapping):
        text = _str(value.get("value"))
        error = value.get("error")
        return (text.upper() if text else None), (dict(error) if isinstance(error, Mapping) else None)
    if isinstance(value, str) and value:
        return value.upper(), None
    return None, None


def _request_id(headers: Mapping[str, str]) -> str | None:
    value = headers.get("sc-request-id") if headers else None
    return value or None


def _unwrap(document: Mapping[str, Any]) -> dict[str, Any]:
    """The resource of a single-resource answer: ``{"data": {...}}`` as documented, or the bare resource."""
    data = document.get("data")
    if isinstance(data, Mapping) and ("attributes" in data or "id" in data or "type" in data):
        return dict(data)
    return dict(document)


class BodyReader:
    """Reads of the decoded body by key, plus ``"body"`` (the whole body) and ``"headers"``, as the official
    SDK's v3 ``Response`` dictionary has them."""

    document: dict[str, Any]
    headers: Mapping[str, str]

    def read(self, key: str) -> Any:
        if key == "body":
            return self.document
        if key == "headers":
            return self.headers
        return self.document[key]

    def body_keys(self) -> Iterator[str]:
        yield "body"
        yield "headers"
        yield from (key for key in self.document if key not in ("body", "headers"))

    @property
    def request_id(self) -> str | None:
        """Smartcar's ``SC-Request-Id`` for this answer (quote it to Smartcar's support)."""
        return _request_id(self.headers)


@dataclass(frozen=True, eq=False, kw_only=True)
class Document(BodyReader, Mapping[str, Any]):
    """Base of the single-resource V3 results: a read-only mapping of the decoded body (see ``BodyReader``)."""

    document: dict[str, Any] = field(default_factory=dict, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __getitem__(self, key: str) -> Any:
        return self.read(key)

    def __iter__(self) -> Iterator[str]:
        return self.body_keys()

    def __len__(self) -> int:
        return sum(1 for _ in self.body_keys())


@dataclass(frozen=True, eq=False, kw_only=True)
class VehicleInfo(Document):
    """``GET /vehicles/{id}`` (or a signals answer's ``included.vehicle``): make, model, year, powertrain."""

    id: str | None
    make: str | None = None
    model: str | None = None
    year: int | None = None
    powertrain_type: str | None = None
    mode: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_resource(
        cls,
        resource: Mapping[str, Any],
        *,
        document: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> VehicleInfo:
        # A JSON:API resource ({"id", "attributes": {...}}) or a flat object ({"id", "make", ...}).
        attributes = _mapping(resource.get("attributes")) or dict(resource)
        return cls(
            id=_str(resource.get("id")) or _str(attributes.get("id")),
            make=_str(attributes.get("make")),
            model=_str(attributes.get("model")),
            year=_int(attributes.get("year")),
            powertrain_type=_str(attributes.get("powertrainType")),
            mode=_str(attributes.get("mode")),
            raw=dict(resource),
            document=dict(document if document is not None else resource),
            headers=headers or {},
        )

    @classmethod
    def from_document(
        cls, document: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> VehicleInfo:
        resource = _unwrap(document)
        info = cls.from_resource(resource, document=document, headers=headers)
        if info.id is None:
            raise InvalidResponseException(
                "The vehicle answer has no id", request_id=_request_id(headers or {})
            )
        return info


@dataclass(frozen=True, eq=False, kw_only=True)
class Signal(Document):
    """One signal: ``status`` is ``SUCCESS`` (``body`` holds the value), ``ERROR`` (``error`` says why: it never
    fails the whole read) or ``UNAVAILABLE``. Times are aware UTC datetimes or None."""

    code: str
    name: str | None = None
    group: str | None = None
    status: str = SUCCESS
    body: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    oem_updated_at: datetime | None = None
    retrieved_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_resource(
        cls,
        resource: Mapping[str, Any],
        *,
        document: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Signal:
        """A signal as the Vehicle API V3 sends it (``{"id", "type": "signal", "attributes": {...}, "meta"}``)
        or as a v4 webhook carries it (``{"code", "name", "group", "body", "meta", "status"}``)."""
        if not isinstance(resource, Mapping):
            raise InvalidResponseException("A signal is not a JSON object")
        attributes = _mapping(resource.get("attributes"))

        def pick(key: str) -> Any:
            return attributes[key] if key in attributes else resource.get(key)

        code = _str(pick("code")) or _str(resource.get("id"))
        if code is None:
            raise InvalidResponseException("A signal has no code", request_id=_request_id(headers or {}))
        status, error = _status(pick("status"))
        if error is None and isinstance(pick("error"), Mapping):
            error = dict(pick("error"))
        body = pick("body")
        body = dict(body) if isinstance(body, Mapping) else None
        if status is None:
            # No status (older webhook captures): a body means it was read, an error that it failed.
            status = SUCCESS if body is not None else ERROR if error is not None else UNAVAILABLE
        meta = _mapping(resource.get("meta")) or _mapping(attributes.get("meta"))
        retrieved = next(
            (meta[key] for key in ("retrievedAt", "fetchedAt", "ingestedAt") if meta.get(key) is not None),
            None,
        )
        return cls(
            code=code,
            name=_str(pick("name")),
            group=_str(pick("group")),
            status=status,
            body=body,
            error=error,
            oem_updated_at=parse_timestamp(meta.get("oemUpdatedAt")),
            retrieved_at=parse_timestamp(retrieved),
            raw=dict(resource),
            document=dict(document if document is not None else resource),
            headers=headers or {},
        )

    @classmethod
    def from_document(cls, document: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Signal:
        """``GET /vehicles/{id}/signals/{code}``: the bare signal as documented, or wrapped in ``data``."""
        return cls.from_resource(_unwrap(document), document=document, headers=headers)

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCESS

    def webhook_form(self) -> dict[str, Any]:
        """This signal in a v4 webhook's shape (``{"code", "name", "group", "status": {"value", "error"?},
        "body"?, "meta"?: {"oemUpdatedAt", "retrievedAt"}}``, times as sent), so that signals read through the
        API and signals delivered by webhooks go through the same code."""
        status: dict[str, Any] = {"value": self.status}
        if self.error is not None:
            status["error"] = self.error
        form: dict[str, Any] = {"code": self.code, "name": self.name, "group": self.group, "status": status}
        if self.body is not None:
            form["body"] = self.body
        meta = _mapping(self.raw.get("meta")) or _mapping(_mapping(self.raw.get("attributes")).get("meta"))
        retrieved = next(
            (meta[key] for key in ("retrievedAt", "fetchedAt", "ingestedAt") if meta.get(key) is not None),
            None,
        )
        times = {"oemUpdatedAt": meta.get("oemUpdatedAt"), "retrievedAt": retrieved}
        if any(value is not None for value in times.values()):
            form["meta"] = times
        return form

    @property
    def value(self) -> Any:
        """``body["value"]`` (None for multi-valued bodies such as doors or tires, and for failed signals)."""
        return self.body.get("value") if self.body else None

    @property
    def unit(self) -> str | None:
        """``body["unit"]``, spelled as Smartcar's real answers spell it (``kilometers`` -> ``km``)."""
        return normalize_unit(self.body.get("unit")) if self.body else None


def _paging(meta: Mapping[str, Any]) -> tuple[int | None, int | None, int | None]:
    """(page, page size, total count) from a list's ``meta``, in the spellings seen or plausible."""
    page: Any = meta.get("page", meta.get("pageNumber"))
    size: Any = meta.get("pageSize", meta.get("size"))
    if isinstance(page, Mapping):
        page, size = page.get("number"), page.get("size", size)
    total = meta.get("totalCount", meta.get("total", meta.get("count")))
    return _int(page), _int(size), _int(total)


def _list_data(document: Mapping[str, Any], what: str, headers: Mapping[str, str]) -> list[Any]:
    # The transport reads a bare JSON array as {"items": [...]}.
    data = document.get("data", document.get("items"))
    if data is None:
        return []
    if not isinstance(data, list):
        raise InvalidResponseException(
            f"The {what} answer's data is not a list", request_id=_request_id(headers)
        )
    return data


class Signals(BodyReader):
    """``GET /vehicles/{id}/signals``: a list of ``Signal`` (``for signal in signals``, ``signals[0]``,
    ``len(signals)``), looked up by code (``signals.get("closure-islocked")``, ``"closure-islocked" in
    signals``), with the vehicle from ``included`` and the body's ``meta`` and ``links``. String keys of the
    body (``signals["data"]``, ``["body"]``, ``["headers"]``) read the JSON as sent; any other string is a code.
    """

    def __init__(
        self,
        signals: list[Signal],
        *,
        vehicle: VehicleInfo | None = None,
        meta: dict[str, Any] | None = None,
        links: dict[str, Any] | None = None,
        document: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.document = document or {}
        self.headers = headers or {}
        self.signals = list(signals)
        self.vehicle = vehicle
        self.meta = meta or {}
        self.links = links or {}
        self.by_code = {signal.code: signal for signal in self.signals}

    @classmethod
    def from_document(cls, document: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Signals:
        headers = headers or {}
        items = _list_data(document, "signals", headers)
        included: Any = document.get("included")
        vehicle_resource: Any = None
        if isinstance(included, Mapping):
            vehicle_resource = included.get("vehicle")
        elif isinstance(included, list):  # JSON:API's own form: a list of typed resources
            vehicle_resource = next(
                (item for item in included if isinstance(item, Mapping) and item.get("type") == "vehicle"),
                None,
            )
        return cls(
            [Signal.from_resource(item) for item in items],
            vehicle=VehicleInfo.from_resource(vehicle_resource)
            if isinstance(vehicle_resource, Mapping)
            else None,
            meta=_mapping(document.get("meta")),
            links=_mapping(document.get("links")),
            document=dict(document),
            headers=headers,
        )

    @property
    def codes(self) -> list[str]:
        return [signal.code for signal in self.signals]

    @overload
    def __getitem__(self, key: int) -> Signal: ...

    @overload
    def __getitem__(self, key: str) -> Any: ...

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, int):
            return self.signals[key]
        if key in ("body", "headers") or key in self.document:
            return self.read(key)
        return self.by_code[key]

    def get(self, key: str, default: Any = None) -> Any:
        """The signal with this code (or a key of the body, e.g. ``"meta"``), else ``default``."""
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return key in self.by_code or key in ("body", "headers") or key in self.document

    def __iter__(self) -> Iterator[Signal]:
        return iter(self.signals)

    def __len__(self) -> int:
        return len(self.signals)

    def __repr__(self) -> str:
        vehicle = self.vehicle.id if self.vehicle else None
        return f"Signals(vehicle={vehicle!r}, codes={self.codes!r})"


@dataclass(frozen=True, eq=False, kw_only=True)
class CommandExecution(Document):
    """A command's outcome: Smartcar's ``command-execution`` resource, from a ``200`` (done at once) or from the
    ``202`` it holds open until the car answers (``http_status`` says which). ``status`` is ``SUCCESS`` when the
    car did it; other values (``FAILURE``, ``PENDING``) are passed on as sent."""

    id: str | None
    command_type: str | None = None
    status: str | None = None
    execution_mode: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    executed_at: datetime | None = None
    completed_at: datetime | None = None
    duration_seconds: float | None = None
    error: dict[str, Any] | None = None
    http_status: int = 200
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_document(
        cls, document: Mapping[str, Any], headers: Mapping[str, str] | None = None, http_status: int = 200
    ) -> CommandExecution:
        resource = _unwrap(document) if document else {}
        attributes = _mapping(resource.get("attributes")) or resource
        meta = _mapping(resource.get("meta"))

        def pick(key: str) -> Any:
            return meta[key] if key in meta else attributes.get(key)

        status, error = _status(attributes.get("status"))
        duration = pick("durationInSeconds")
        return cls(
            id=_str(resource.get("id")),
            command_type=_str(attributes.get("commandType")),
            status=status,
            execution_mode=_str(attributes.get("executionMode")),
            parameters=_mapping(attributes.get("parameters")),
            executed_at=parse_timestamp(pick("executedAt")),
            completed_at=parse_timestamp(pick("completedAt")),
            duration_seconds=(
                float(duration)
                if isinstance(duration, int | float) and not isinstance(duration, bool)
                else None
            ),
            error=error,
            http_status=http_status,
            raw=dict(resource),
            document=dict(document),
            headers=headers or {},
        )

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCESS


@dataclass(frozen=True, eq=False, kw_only=True)
class Connection(Document):
    """One connection (a user's vehicle connected to the application), from ``/connections``."""

    id: str
    user_id: str | None = None
    vehicle_id: str | None = None
    permissions: list[str] = field(default_factory=list)
    make: str | None = None
    model: str | None = None
    year: int | None = None
    mode: str | None = None
    powertrain_type: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_resource(
        cls,
        resource: Mapping[str, Any],
        *,
        document: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Connection:
        if not isinstance(resource, Mapping) or not _str(resource.get("id")):
            raise InvalidResponseException("A connection has no id", request_id=_request_id(headers or {}))
        attributes = _mapping(resource.get("attributes"))
        vehicle = _mapping(attributes.get("vehicle"))
        meta = _mapping(resource.get("meta"))
        permissions = attributes.get("permissions")
        return cls(
            id=str(resource["id"]),
            user_id=_related_id(resource, "user")
            or _str(attributes.get("userId"))
            or _str(_mapping(attributes.get("user")).get("id")),
            vehicle_id=_related_id(resource, "vehicle")
            or _str(attributes.get("vehicleId"))
            or _str(vehicle.get("id")),
            permissions=[item for item in permissions if isinstance(item, str)]
            if isinstance(permissions, list)
            else [],
            make=_str(vehicle.get("make")),
            model=_str(vehicle.get("model")),
            year=_int(vehicle.get("year")),
            mode=_str(vehicle.get("mode")) or _str(attributes.get("mode")),
            powertrain_type=_str(vehicle.get("powertrainType")),
            created_at=parse_timestamp(meta.get("createdAt", attributes.get("createdAt"))),
            updated_at=parse_timestamp(meta.get("updatedAt", attributes.get("updatedAt"))),
            raw=dict(resource),
            document=dict(document if document is not None else resource),
            headers=headers or {},
        )

    @classmethod
    def from_document(
        cls, document: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> Connection:
        return cls.from_resource(_unwrap(document), document=document, headers=headers)


@dataclass(frozen=True, eq=False, kw_only=True)
class Webhook(Document):
    """A webhook configured in the Dashboard (Management API V3)."""

    id: str
    name: str | None = None
    callback_uri: str | None = None
    is_enabled: bool | None = None
    auto_subscribe: bool | None = None
    error_callback_uri: str | None = None
    triggers: list[dict[str, Any]] = field(default_factory=list)
    # attributes.data: the signals each delivery carries.
    signals: list[dict[str, Any]] = field(default_factory=list)
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_resource(
        cls,
        resource: Mapping[str, Any],
        *,
        document: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Webhook:
        if not isinstance(resource, Mapping) or not _str(resource.get("id")):
            raise InvalidResponseException("A webhook has no id", request_id=_request_id(headers or {}))
        attributes = _mapping(resource.get("attributes"))
        meta = _mapping(resource.get("meta"))

        def flag(key: str) -> bool | None:
            value = attributes.get(key)
            return value if isinstance(value, bool) else None

        def items(key: str) -> list[dict[str, Any]]:
            value = attributes.get(key)
            return (
                [dict(item) for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []
            )

        return cls(
            id=str(resource["id"]),
            name=_str(attributes.get("name")),
            callback_uri=_str(attributes.get("callbackUri")),
            is_enabled=flag("isEnabled"),
            auto_subscribe=flag("autoSubscribe"),
            error_callback_uri=_str(attributes.get("errorCallbackUri")),
            triggers=items("triggers"),
            signals=items("data"),
            created_at=parse_timestamp(meta.get("createdAt", attributes.get("createdAt"))),
            raw=dict(resource),
            document=dict(document if document is not None else resource),
            headers=headers or {},
        )

    @classmethod
    def from_document(cls, document: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Webhook:
        return cls.from_resource(_unwrap(document), document=document, headers=headers)


@dataclass(frozen=True, eq=False, kw_only=True)
class Subscription(Document):
    """A vehicle's subscription to a webhook, for one user (Management API V3)."""

    id: str
    webhook_id: str | None = None
    user_id: str | None = None
    vehicle_id: str | None = None
    make: str | None = None
    model: str | None = None
    year: int | None = None
    mode: str | None = None
    powertrain_type: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_resource(
        cls,
        resource: Mapping[str, Any],
        *,
        document: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Subscription:
        if not isinstance(resource, Mapping) or not _str(resource.get("id")):
            raise InvalidResponseException("A subscription has no id", request_id=_request_id(headers or {}))
        attributes = _mapping(resource.get("attributes"))
        vehicle = _mapping(attributes.get("vehicle"))
        meta = _mapping(resource.get("meta"))
        return cls(
            id=str(resource["id"]),
            webhook_id=_related_id(resource, "webhook") or _str(attributes.get("webhookId")),
            user_id=_related_id(resource, "user") or _str(attributes.get("userId")),
            vehicle_id=_related_id(resource, "vehicle")
            or _str(attributes.get("vehicleId"))
            or _str(vehicle.get("id")),
            make=_str(vehicle.get("make")),
            model=_str(vehicle.get("model")),
            year=_int(vehicle.get("year")),
            mode=_str(vehicle.get("mode")),
            powertrain_type=_str(vehicle.get("powertrainType")),
            created_at=parse_timestamp(meta.get("createdAt", attributes.get("createdAt"))),
            updated_at=parse_timestamp(meta.get("updatedAt", attributes.get("updatedAt"))),
            raw=dict(resource),
            document=dict(document if document is not None else resource),
            headers=headers or {},
        )

    @classmethod
    def from_document(
        cls, document: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> Subscription:
        return cls.from_resource(_unwrap(document), document=document, headers=headers)


@dataclass(frozen=True, eq=False, kw_only=True)
class SubscriptionRequest(Document):
    """``POST /subscriptions``: ``202`` (``created``: Smartcar is making it; a ``FIRST_DELIVERY`` follows) or
    ``409`` (``already_exists``: nothing to do). Neither raises."""

    created: bool
    already_exists: bool = False
    message: str | None = None
    http_status: int = 202


ItemT = TypeVar("ItemT")


class Page(BodyReader, Generic[ItemT]):
    """One page of a V3 list: ``items`` (also ``for item in page``, ``page[0]``, ``len(page)``), the page
    number and size, ``total_count`` (None if Smartcar does not say) and ``links``. String keys read the body."""

    def __init__(
        self,
        items: list[ItemT],
        *,
        page: int,
        page_size: int | None = None,
        total_count: int | None = None,
        links: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
        document: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.document = document or {}
        self.headers = headers or {}
        self.items = list(items)
        self.page = page
        self.page_size = page_size
        self.total_count = total_count
        self.links = links or {}
        self.meta = meta or {}

    @property
    def has_next(self) -> bool:
        """Whether a later page exists: per ``links.next`` when Smartcar sends it, else per ``totalCount``,
        else whether this page was full."""
        if not self.items:
            return False
        if "next" in self.links:
            return bool(self.links["next"])
        if self.total_count is not None:
            size = self.page_size or len(self.items)
            return self.page * size < self.total_count
        return self.page_size is not None and len(self.items) >= self.page_size

    @overload
    def __getitem__(self, key: int) -> ItemT: ...

    @overload
    def __getitem__(self, key: str) -> Any: ...

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, int):
            return self.items[key]
        return self.read(key)

    def __iter__(self) -> Iterator[ItemT]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, key: object) -> bool:
        return key in self.items or key in ("body", "headers") or key in self.document

    def __repr__(self) -> str:
        return (
            f"Page(page={self.page!r}, page_size={self.page_size!r}, total_count={self.total_count!r}, "
            f"items={self.items!r})"
        )


def page_from_document(
    document: Mapping[str, Any],
    headers: Mapping[str, str],
    read: Any,
    *,
    requested_page: int,
    requested_size: int | None,
    what: str,
) -> Page[Any]:
    """A ``Page`` of ``read(resource)`` items from a JSON:API list answer."""
    items = [read(item) for item in _list_data(document, what, headers)]
    meta = _mapping(document.get("meta"))
    page, size, total = _paging(meta)
    return Page(
        items,
        page=page or requested_page,
        page_size=size or requested_size,
        total_count=total,
        links=_mapping(document.get("links")),
        meta=meta,
        document=dict(document),
        headers=headers,
    )
