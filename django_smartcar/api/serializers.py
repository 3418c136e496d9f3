"""What the API shows of accounts, vehicles and commands. Tokens are never among the fields."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..exceptions import InvalidConnectRequest
from ..models import SmartcarAccount, Vehicle, VehicleCommand, VehicleRefresh, VehicleSignal
from ..services import budget, connect
from ..services.vehicles import DATA_GROUPS, DATA_GROUPS_BY_NAME

# Ids beyond a 64-bit integer cannot exist in any database column (and overflow SQLite's integers).
LARGEST_ID = 2**63 - 1


class FiniteFloatField(serializers.FloatField):
    """A float shown as null when it is NaN or infinite: JSON has no such number, and DRF's strict renderer
    would answer 500. Data is validated before it is stored; this keeps rows stored before that readable."""

    # DRF's stubs type FloatField's representation as str; DRF returns float(value), and this also None.
    def to_representation(self, value: Any) -> float | None:  # type: ignore[override]
        number = float(value)  # what FloatField.to_representation does
        return number if math.isfinite(number) else None


def finite_json(value: Any) -> Any:
    """A JSON value with every NaN/infinite float replaced by null (see ``FiniteFloatField``)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite_json(item) for item in value]
    return value


class AccountSerializer(serializers.ModelSerializer):
    scope = serializers.ListField(child=serializers.CharField(), read_only=True)
    connected_vehicles = serializers.IntegerField(read_only=True, help_text="Vehicles still connected.")

    class Meta:
        model = SmartcarAccount
        fields = [
            "id",
            "smartcar_user_id",
            "mode",
            "status",
            "scope",
            "connected_vehicles",
            "connected_at",
            "disconnected_at",
            "last_refreshed_at",
            "refresh_expires_at",
        ]
        read_only_fields = fields


class DataGroupSerializer(serializers.Serializer):
    """One group of a vehicle's last known data with its ``age``: when the car reported it. Null until then.

    Each subclass names its ``group`` in ``services.vehicles.DATA_GROUPS``, the one registry of data groups:
    the vehicle JSON's key and the ``age`` field come from there.
    """

    group: ClassVar[str]
    by_group: ClassVar[dict[str, type[DataGroupSerializer]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        DataGroupSerializer.by_group[DATA_GROUPS_BY_NAME[cls.group].name] = cls

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["age"] = serializers.DateTimeField(source=DATA_GROUPS_BY_NAME[self.group].age_field)
        return fields

    # A nested serializer may represent its object as null (DRF's stubs only allow a dict).
    def to_representation(self, vehicle: Vehicle) -> dict[str, Any] | None:  # type: ignore[override]
        if self.fields["age"].get_attribute(vehicle) is None:
            return None
        return super().to_representation(vehicle)


def data_group_fields() -> dict[str, DataGroupSerializer]:
    """The vehicle JSON's data groups, in the registry's order, each under its registry name."""
    return {
        group.name: DataGroupSerializer.by_group[group.name](source="*", read_only=True, allow_null=True)
        for group in DATA_GROUPS
        if group.age_field  # static data (the VIN) is a plain field of the vehicle
    }


class OdometerSerializer(DataGroupSerializer):
    group = "odometer"

    distance_km = FiniteFloatField(source="odometer_km", allow_null=True)


class LocationSerializer(DataGroupSerializer):
    group = "location"

    latitude = FiniteFloatField(allow_null=True)
    longitude = FiniteFloatField(allow_null=True)


class FuelSerializer(DataGroupSerializer):
    group = "fuel"

    percent_remaining = FiniteFloatField(
        source="fuel_percent_remaining", allow_null=True, help_text="Percent, 0-100."
    )
    range_km = FiniteFloatField(source="fuel_range_km", allow_null=True)
    amount_liters = FiniteFloatField(source="fuel_amount_liters", allow_null=True)


class BatterySerializer(DataGroupSerializer):
    group = "battery"

    percent_remaining = FiniteFloatField(
        source="battery_percent_remaining", allow_null=True, help_text="Percent, 0-100."
    )
    range_km = FiniteFloatField(source="battery_range_km", allow_null=True)


class ChargeSerializer(DataGroupSerializer):
    group = "charge"

    state = serializers.CharField(
        source="charge_state", help_text="CHARGING, FULLY_CHARGED or NOT_CHARGING (empty if unknown)."
    )
    is_plugged_in = serializers.BooleanField(allow_null=True)


class SecuritySerializer(DataGroupSerializer):
    group = "security"

    is_locked = serializers.BooleanField(allow_null=True)
    details = serializers.SerializerMethodField(help_text="Doors, windows, sunroof, storage, charging port.")

    @extend_schema_field({"type": "object", "nullable": True, "additionalProperties": True})
    def get_details(self, vehicle: Vehicle) -> dict[str, Any] | None:
        details: dict[str, Any] | None = finite_json(vehicle.lock_status)
        return details


class EngineOilSerializer(DataGroupSerializer):
    group = "engine_oil"

    life_remaining = FiniteFloatField(
        source="oil_life_remaining", allow_null=True, help_text="Percent, 0-100."
    )


class TirePressureSerializer(DataGroupSerializer):
    group = "tire_pressure"

    kpa = serializers.SerializerMethodField(help_text="Pressure of each tire (frontLeft, ...) in kPa.")

    @extend_schema_field({"type": "object", "nullable": True, "additionalProperties": True})
    def get_kpa(self, vehicle: Vehicle) -> dict[str, Any] | None:
        kpa: dict[str, Any] | None = finite_json(vehicle.tire_pressure_kpa)
        return kpa


class CommandErrorSerializer(serializers.Serializer):
    type = serializers.CharField(
        source="error_type", help_text="Smartcar's error type, or PERMISSION/REAUTHENTICATE."
    )
    code = serializers.CharField(source="error_code", allow_blank=True)
    detail = serializers.CharField(source="error_message")

    # Null when the command did not fail (DRF's stubs only allow a dict).
    def to_representation(self, command: VehicleCommand) -> dict[str, Any] | None:  # type: ignore[override]
        return super().to_representation(command) if command.error_type else None


class CommandSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="django_smartcar_api:command-detail")
    error = CommandErrorSerializer(source="*", read_only=True, allow_null=True)

    class Meta:
        model = VehicleCommand
        fields = [
            "id",
            "url",
            "vehicle",
            "action",
            "status",
            "requested_at",
            "completed_at",
            "smartcar_request_id",
            "message",
            "error",
        ]
        read_only_fields = fields


class VehicleErrorSerializer(serializers.Serializer):
    type = serializers.CharField(
        help_text="Smartcar's error type, e.g. VEHICLE_STATE or CONNECTED_SERVICES_ACCOUNT."
    )
    code = serializers.CharField(help_text="Its code, e.g. ASLEEP, UNREACHABLE, ACCOUNT_ISSUE.")
    since = serializers.DateTimeField(allow_null=True, help_text="When it was learnt.")


class RequestBudgetSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="The billing month (UTC), e.g. 2026-12.")
    used = serializers.IntegerField(
        help_text="Billed Smartcar requests this month (each v2 batch item counts)."
    )
    limit = serializers.IntegerField(
        allow_null=True, help_text="The plan's requests per vehicle a month (MONTHLY_REQUESTS_PER_VEHICLE)."
    )
    next_poll_at = serializers.DateTimeField(
        allow_null=True, help_text="When scheduled polling reads the vehicle next (null: at the next round)."
    )
    polling_state = serializers.CharField(
        help_text="What set the next poll: charging, driving, parked, asleep, unreachable, rate limited, "
        "webhook (its data came by webhook), budget (polling's share of the month is spent), queued."
    )


def request_budget(vehicle: Vehicle) -> dict[str, Any]:
    usage = budget.usage(vehicle)
    return {
        "month": f"{usage.month:%Y-%m}",
        "used": usage.used,
        "limit": usage.limit,
        "next_poll_at": vehicle.next_poll_at,
        "polling_state": vehicle.poll_reason,
    }


def vehicle_errors(vehicle: Vehicle) -> list[dict[str, Any]]:
    """``Vehicle.vehicle_errors`` (``{"TYPE:CODE": ISO time}``) as a list of type, code and since, oldest first."""
    answer = []
    for key, learnt in (vehicle.vehicle_errors or {}).items():
        error_type, _, code = str(key).partition(":")
        try:
            since = datetime.fromisoformat(learnt) if isinstance(learnt, str) else None
        except ValueError:
            since = None
        answer.append({"type": error_type, "code": code, "since": since})
    return sorted(
        answer, key=lambda item: (item["since"] is None, item["since"] or 0, item["type"], item["code"])
    )


class RefreshErrorSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="The Smartcar data path that failed, e.g. /odometer.")
    data_point = serializers.CharField(help_text="Its data group, e.g. odometer.")
    reason = serializers.CharField(help_text='Why, in a few words, e.g. "rate limited".')
    type = serializers.CharField()
    code = serializers.CharField(allow_null=True)
    detail = serializers.CharField()


class RefreshSerializer(serializers.ModelSerializer):
    """A refresh queued for a worker: pending, then what it read (``updated``), what failed (``errors``) and
    what the car cannot give (``not_capable``); ``error`` says why when nothing at all could be read."""

    url = serializers.HyperlinkedIdentityField(view_name="django_smartcar_api:refresh-detail")
    updated = serializers.ListField(child=serializers.CharField(), read_only=True)
    not_capable = serializers.ListField(child=serializers.CharField(), read_only=True)
    # DRF's metaclass takes declared fields out of the class, so Serializer.errors is not shadowed at run time.
    errors = RefreshErrorSerializer(many=True, read_only=True)  # type: ignore[assignment]
    error = CommandErrorSerializer(source="*", read_only=True, allow_null=True)

    class Meta:
        model = VehicleRefresh
        fields = [
            "id",
            "url",
            "vehicle",
            "status",
            "requested_at",
            "completed_at",
            "updated",
            "errors",
            "not_capable",
            "error",
        ]
        read_only_fields = fields


class VehicleSerializer(serializers.ModelSerializer):
    # A plain string here: the choices are documented once, on the account's own status.
    account_status = serializers.CharField(
        source="account.status", read_only=True, help_text="The status of the vehicle's account."
    )
    permissions = serializers.ListField(child=serializers.CharField(), read_only=True)
    not_capable = serializers.SerializerMethodField(
        help_text="Data points Smartcar says this vehicle cannot give (fuel, battery...): not asked for."
    )
    missing_permissions = serializers.SerializerMethodField(
        help_text="Permissions Smartcar says the app lacks for this vehicle (a webhook's per-signal PERMISSION "
        "error): their data is not asked for until the owner grants them again."
    )
    vehicle_errors = serializers.SerializerMethodField(
        help_text="Errors Smartcar reported for this vehicle and not yet resolved: its state (VEHICLE_STATE "
        "ASLEEP, UNREACHABLE), or its owner's car maker account (CONNECTED_SERVICES_ACCOUNT)."
    )
    request_budget = serializers.SerializerMethodField(
        help_text="The vehicle's billed Smartcar requests this month against its plan, and its next poll."
    )
    data_refreshed_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When data was last read from the car (a refresh or a webhook); commands do not change it. "
        "Each group's own age says when the car reported it.",
    )
    last_command = CommandSerializer(
        read_only=True,
        allow_null=True,
        help_text="The latest command sent to the car (lock, unlock...) and its outcome, kept apart from the "
        "data read from the car: a lock that succeeded shows here, and in security only once it is read.",
    )
    last_refresh = RefreshSerializer(
        read_only=True,
        allow_null=True,
        help_text="The latest refresh asked for through this API or the site: pending while a worker reads the "
        "car, then what it read.",
    )

    class Meta:
        model = Vehicle
        fields = [
            "id",
            "account",
            "account_status",
            "smartcar_id",
            "vin",
            "make",
            "model",
            "year",
            "permissions",
            "not_capable",
            "missing_permissions",
            "vehicle_errors",
            "is_connected",
            "connected_at",
            "disconnected_at",
            "data_refreshed_at",
            "request_budget",
            "last_refresh",
            "last_command",
        ]
        read_only_fields = fields

    def get_fields(self) -> dict[str, serializers.Field]:
        # After the vehicle's own fields, one object per data group, named as in the registry.
        return {**super().get_fields(), **data_group_fields()}

    def get_not_capable(self, vehicle: Vehicle) -> list[str]:
        return sorted(vehicle.not_capable or {})

    def get_missing_permissions(self, vehicle: Vehicle) -> list[str]:
        return sorted(vehicle.missing_permissions or {})

    @extend_schema_field(VehicleErrorSerializer(many=True))
    def get_vehicle_errors(self, vehicle: Vehicle) -> list[dict[str, Any]]:
        return vehicle_errors(vehicle)

    @extend_schema_field(RequestBudgetSerializer)
    def get_request_budget(self, vehicle: Vehicle) -> dict[str, Any]:
        return request_budget(vehicle)


JSON_OBJECT_OR_NULL = {"type": "object", "nullable": True, "additionalProperties": True}


class VehicleSignalSerializer(serializers.ModelSerializer):
    """The latest of one signal the vehicle reported (API V3 signals, v4 webhooks), as Smartcar sent it.

    ``body`` is the last value received (kept when a later reading failed: ``status`` and ``error`` then say
    so); ``oem_updated_at`` / ``retrieved_at`` are that value's times.
    """

    body = serializers.SerializerMethodField(
        help_text='The value as Smartcar sent it, e.g. {"value": 42.5, "unit": "km"}; null if none yet.'
    )
    error = serializers.SerializerMethodField(
        help_text="Smartcar's error (type, code...) when status is ERROR, else null."
    )

    class Meta:
        model = VehicleSignal
        fields = ["code", "name", "group", "status", "body", "error", "oem_updated_at", "retrieved_at"]
        read_only_fields = fields

    @extend_schema_field(JSON_OBJECT_OR_NULL)
    def get_body(self, signal: VehicleSignal) -> dict[str, Any] | None:
        body: dict[str, Any] | None = finite_json(signal.body)
        return body

    @extend_schema_field(JSON_OBJECT_OR_NULL)
    def get_error(self, signal: VehicleSignal) -> dict[str, Any] | None:
        error: dict[str, Any] | None = finite_json(signal.error)
        return error


class VehicleDetailSerializer(VehicleSerializer):
    """One vehicle in detail: the list's fields and every signal it reported."""

    signals = VehicleSignalSerializer(
        many=True,
        read_only=True,
        help_text="Every signal the vehicle reported, by code (also paginated at signals/).",
    )

    class Meta(VehicleSerializer.Meta):
        fields = [*VehicleSerializer.Meta.fields, "signals"]
        read_only_fields = fields


class VehicleFilterSerializer(serializers.Serializer):
    """The vehicle list's filters."""

    account = serializers.IntegerField(
        required=False, min_value=1, max_value=LARGEST_ID, help_text="Only this account's vehicles."
    )
    connected = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Only connected (true) or disconnected (false).",
    )


class CommandFilterSerializer(serializers.Serializer):
    vehicle = serializers.IntegerField(
        required=False, min_value=1, max_value=LARGEST_ID, help_text="Only this vehicle's commands."
    )


class RefreshResultSerializer(serializers.Serializer):
    vehicle = VehicleSerializer()
    updated = serializers.ListField(
        child=serializers.CharField(),
        help_text="Groups that changed, named as in the vehicle: "
        + ", ".join(group.name for group in DATA_GROUPS)
        + ".",
    )
    # DRF's metaclass takes declared fields out of the class, so Serializer.errors is not shadowed at run time.
    errors = RefreshErrorSerializer(  # type: ignore[assignment]
        many=True, help_text="Data points Smartcar could not give this time."
    )
    not_capable = serializers.ListField(
        child=serializers.CharField(),
        help_text="Groups Smartcar just said this vehicle cannot give: no failure, and no longer asked for.",
    )


class RefreshFilterSerializer(serializers.Serializer):
    vehicle = serializers.IntegerField(
        required=False, min_value=1, max_value=LARGEST_ID, help_text="Only this vehicle's refreshes."
    )


class ConnectUrlRequestSerializer(serializers.Serializer):
    """Connect's options, checked by ``services.connect`` as the HTML connect view checks them."""

    next = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Where to land after the callback; one not on this site (or too long) lands on the default.",
    )
    make = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Skip Connect's brand selector (plain text, at most "
        f"{connect.CONNECT_OPTION_MAX_LENGTHS['make']} characters).",
    )
    single_select = serializers.BooleanField(required=False, allow_null=True, default=None)
    single_select_vin = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text=f"At most {connect.CONNECT_OPTION_MAX_LENGTHS['single_select_vin']} characters.",
    )
    force = serializers.BooleanField(
        required=False, default=False, help_text="Show the approval screen even if already approved."
    )

    def validate_make(self, value: str) -> str | None:
        return _connect_option("make", value)

    def validate_single_select_vin(self, value: str) -> str | None:
        return _connect_option("single_select_vin", value)


def _connect_option(name: str, value: str) -> str | None:
    try:
        return connect.check_connect_option(name, value)
    except InvalidConnectRequest as exc:
        raise serializers.ValidationError(str(exc)) from None


class ConnectUrlSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="Smartcar Connect, to open in a browser or web view.")
    state = serializers.CharField(
        help_text="Single-use; the callback accepts it for this user only, until it expires."
    )


class ErrorSerializer(serializers.Serializer):
    """An error answer. ``type`` and ``code`` are present when the failure came from Smartcar (or needs the
    owner to reconnect); DRF's own errors (authentication, not found, throttled) carry ``detail`` only."""

    detail = serializers.CharField()
    type = serializers.CharField(
        required=False, help_text="Smartcar's error type (RATE_LIMIT, VEHICLE_STATE...) or REAUTHENTICATE."
    )
    code = serializers.CharField(required=False, allow_null=True)
    request_id = serializers.CharField(required=False, allow_null=True, help_text="Smartcar's request id.")
    reconnect_url = serializers.URLField(
        required=False, help_text="Where to send the user to connect again (re-authentication)."
    )
    retry_after = serializers.IntegerField(required=False, help_text="Seconds to wait (rate limits).")
    command = CommandSerializer(required=False, help_text="The failed command's audit row.")
