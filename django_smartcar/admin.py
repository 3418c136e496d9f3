"""Admin for accounts, vehicles, commands and refreshes. Tokens are never shown; actions go through a
confirmation page.

Actions on accounts and vehicles need the ``django_smartcar.send_vehicle_commands`` permission (reprocessing
webhook events needs the change permission); each works row by row through the services and reports each
row's outcome without stopping at the first failure. Lock, Unlock and Refresh data only queue the work for a
Celery worker (no admin request waits on a car): the vehicle list shows it pending ("Last command", "Last
refresh"), then its result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, Model, Prefetch, Q, QuerySet
from django.db.models.options import Options
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from . import client
from .brands import display_make
from .exceptions import DjangoSmartcarError
from .models import SmartcarAccount, Vehicle, VehicleCommand, VehicleRefresh, VehicleSignal, WebhookEvent
from .services import budget, commands, refreshes, signals, tokens, vehicles, webhooks
from .services import connect as connect_service

COMMAND_PERMISSION = "django_smartcar.send_vehicle_commands"

_M = TypeVar("_M", bound=Model)


def percent_display(field_name: str) -> str:
    """The admin display of a percent field: ``battery_percent_remaining`` -> ``battery_percent``."""
    return field_name.removesuffix("_remaining").removesuffix("_percent") + "_percent"


# Vehicle fields holding a percent (0-100; ``vehicles.PERCENT_FIELDS``, the one list), and the admin display
# showing each as "77.2 %" (a missing display fails Django's admin checks).
PERCENT_DISPLAYS = {name: percent_display(name) for name in sorted(vehicles.PERCENT_FIELDS)}


# Vehicle foreign keys shown as a one-line summary of the command or refresh they point at.
SUMMARY_DISPLAYS = {"last_command": "last_command_summary", "last_refresh": "last_refresh_summary"}


def format_percent(value: float | None) -> str | None:
    """A stored percent (0-100) as people read it: 77.2 -> "77.2 %", 80.0 -> "80 %"; None stays empty."""
    if value is None:
        return None
    return f"{value:.1f}".removesuffix(".0") + " %"


# For the type checker the mixin is the ModelAdmin it is mixed into; at run time a plain mixin.
if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    _AdminBase = admin.ModelAdmin[Any]

    class _ConnectedCount(TypedDict):
        _connected_vehicles: int

else:
    _AdminBase = object


class CommandPermissionMixin(_AdminBase):
    def has_send_vehicle_commands_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(COMMAND_PERMISSION)

    # Actions may refresh tokens, which commit in their own transaction: ATOMIC_REQUESTS would forbid it.
    @transaction.non_atomic_requests
    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return super().changelist_view(request, extra_context)


def confirmation_question(question: str, opts: Options[Any], count: int) -> str:
    """``question`` ("Refresh the data of") completed as English: "... this vehicle?" or "... these 5 vehicles?"."""
    if count == 1:
        return f"{question} this {opts.verbose_name}?"
    return f"{question} these {count} {opts.verbose_name_plural}?"


def confirmed_action(
    description: str,
    verb: str,
    run: Callable[[HttpRequest, _M], str],
    permissions: tuple[str, ...] = ("send_vehicle_commands",),
    *,
    question: str,
    background: bool = False,
) -> Callable[[admin.ModelAdmin[_M], HttpRequest, QuerySet[_M]], TemplateResponse | None]:
    """An admin action that first shows a confirmation page, then runs ``run`` on each selected row.

    ``question`` opens the confirmation sentence ("Refresh the data of" + "these 5 vehicles?"): a verb alone
    does not always make English with the objects after it. ``background`` says ``run`` only queues the work
    (the confirmation page says so, and the list shows its progress). ``run`` returns a success message or raises; a
    Smartcar error on one row is reported and the next row is still processed. Each row's outcome, success or
    failure, is recorded in the admin's history (a CHANGE LogEntry), so that "who locked this car?" has an
    answer.
    """

    def action(
        modeladmin: admin.ModelAdmin[_M], request: HttpRequest, queryset: QuerySet[_M]
    ) -> TemplateResponse | None:
        if request.POST.get("confirm") != "yes":
            opts = modeladmin.model._meta
            objects = list(queryset)
            return TemplateResponse(
                request,
                "admin/django_smartcar/confirm_action.html",
                {
                    **modeladmin.admin_site.each_context(request),
                    "title": f"{description}?",
                    "question": confirmation_question(question, opts, len(objects)),
                    "background": background,
                    "opts": opts,
                    "objects": objects,
                    "verb": verb,
                    "action_name": request.POST.get("action"),
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                    "select_across": request.POST.get("select_across", "0"),
                },
            )
        for obj in queryset:
            try:
                outcome = run(request, obj)
            except (client.SmartcarException, DjangoSmartcarError) as exc:
                modeladmin.log_change(request, obj, f"{verb} failed: {exc}")
                modeladmin.message_user(request, f"{obj}: {exc}", messages.ERROR)
            else:
                modeladmin.log_change(request, obj, f"{verb}: {outcome}")
                modeladmin.message_user(request, f"{obj}: {outcome}", messages.SUCCESS)
        return None

    action.__name__ = verb.lower().replace(" ", "_")
    return admin.action(description=description, permissions=list(permissions))(action)


def _command(action: VehicleCommand.Action) -> Callable[[HttpRequest, Vehicle], str]:
    def run(request: HttpRequest, vehicle: Vehicle) -> str:
        # Queued for a worker: the admin never waits on a car. The outcome shows in "Last command".
        command = commands.queue_command(vehicle, action, user=request.user)
        return f"{command.get_action_display()} queued; its outcome shows in Last command."

    return run


def _refresh(request: HttpRequest, vehicle: Vehicle) -> str:
    # Queued for a worker: the admin never waits on a car. The outcome shows in "Last refresh".
    refreshes.queue_refresh(vehicle, user=request.user)
    return "Refresh queued; its outcome shows in Last refresh."


def _rotate(request: HttpRequest, account: SmartcarAccount) -> str:
    tokens.rotate_tokens(account, force=True)
    return f"tokens rotated; refresh token now valid until {account.refresh_expires_at:%Y-%m-%d %H:%M} UTC."


def _disconnect_account(request: HttpRequest, account: SmartcarAccount) -> str:
    connect_service.disconnect_account(account)
    return "disconnected; its vehicles were revoked at Smartcar and its tokens forgotten."


def _disconnect_vehicle(request: HttpRequest, vehicle: Vehicle) -> str:
    connect_service.disconnect_vehicle(vehicle)
    return "disconnected; its access was revoked at Smartcar."


def _sync(request: HttpRequest, account: SmartcarAccount) -> str:
    result = vehicles.sync_vehicles(account)
    return (
        f"{len(result.created)} new, {len(result.updated)} updated, "
        f"{len(result.disconnected)} disconnected vehicle(s)."
    )


@admin.register(SmartcarAccount)
class SmartcarAccountAdmin(CommandPermissionMixin, admin.ModelAdmin):
    list_display = (
        "display_name",
        "smartcar_user_id",
        "owner",
        "status",
        "api_version",
        "mode",
        "connected_vehicles",
        "access_expires_at",
        "refresh_expires_at",
        "consecutive_failures",
    )
    list_filter = ("status", "api_version", "mode")
    list_select_related = ("owner",)
    search_fields = ("smartcar_user_id", "owner__username", "owner__email")
    # Everything visible is read-only; the token columns are not listed at all.
    # api_version: which API the account's vehicles are reached through (V3: no tokens, so the token expiries
    # stay empty).
    fields = (
        "owner",
        "smartcar_user_id",
        "api_version",
        "mode",
        "status",
        "scope",
        "access_expires_at",
        "refresh_expires_at",
        "consecutive_failures",
        "last_refresh_error",
        "last_refreshed_at",
        "connected_at",
        "disconnected_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    actions = [
        confirmed_action("Rotate tokens now", "Rotate tokens", _rotate, question="Rotate the tokens of"),
        confirmed_action(
            "Sync vehicles from Smartcar", "Sync vehicles", _sync, question="Sync the vehicles of"
        ),
        confirmed_action(
            "Disconnect selected accounts", "Disconnect", _disconnect_account, question="Disconnect"
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SmartcarAccount]:
        accounts: QuerySet[SmartcarAccount] = super().get_queryset(request)
        return (
            accounts.annotate(_connected_vehicles=Count("vehicles", Q(vehicles__is_connected=True)))
            # display_name lists the makes of the connected cars.
            .prefetch_related(
                Prefetch(
                    "vehicles", queryset=Vehicle.objects.connected().only("account", "make", "is_connected")
                )
            )
        )

    @admin.display(description="Connection", ordering="owner__username")
    def display_name(self, account: SmartcarAccount) -> str:
        return account.display_name

    @admin.display(description="Vehicles", ordering="_connected_vehicles")
    def connected_vehicles(self, account: WithAnnotations[SmartcarAccount, _ConnectedCount]) -> int:
        return account._connected_vehicles

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # accounts come from Connect, never from a form


class MakeFilter(admin.SimpleListFilter):
    """Filter by make, each listed as the brand writes it (the stored value stays Smartcar's)."""

    title = "make"
    parameter_name = "make"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        makes = model_admin.get_queryset(request).exclude(make="").values_list("make", flat=True).distinct()
        return sorted(((make, display_make(make)) for make in makes), key=lambda choice: choice[1].casefold())

    def queryset(self, request: HttpRequest, queryset: QuerySet[Vehicle]) -> QuerySet[Vehicle]:
        return queryset.filter(make=self.value()) if self.value() else queryset


def signal_error_text(signal: VehicleSignal) -> str:
    """A signal's error as ``TYPE:CODE`` (Smartcar's own words, stored as sent), or "-"."""
    error = signal.error if isinstance(signal.error, dict) else {}
    if not error:
        return "-"
    return ":".join(str(error.get(key) or "") for key in ("type", "code")).rstrip(":") or "-"


class SignalDisplayMixin:
    """How a stored signal reads in the admin: its value in one short line, its error in one word pair."""

    @admin.display(description="Value")
    def value(self, signal: VehicleSignal) -> str:
        return signals.describe_value(signal.body) or "-"

    @admin.display(description="Error")
    def error_display(self, signal: VehicleSignal) -> str:
        return signal_error_text(signal)

    @admin.display(description="Feeds")
    def data_group(self, signal: VehicleSignal) -> str:
        return signals.data_group_of(signal.code) or "-"


class VehicleSignalInline(SignalDisplayMixin, admin.TabularInline):
    """Every signal the vehicle reported, read-only: the latest value of each, its status and its times
    (one query for all of them: every column shown is the row's own)."""

    model = VehicleSignal
    fields = (
        "code",
        "group",
        "name",
        "value",
        "status",
        "error_display",
        "oem_updated_at",
        "retrieved_at",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    verbose_name_plural = "signals"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Vehicle)
class VehicleAdmin(CommandPermissionMixin, admin.ModelAdmin):
    inlines = [VehicleSignalInline]
    list_display = (
        "__str__",
        "vin",
        "owner",
        "is_connected",
        "odometer_km",
        "battery_percent",
        "fuel_percent",
        "is_locked",
        "data_refreshed_at",
        "last_refresh_summary",
        "last_command_summary",
        "problems",
        "requests_this_month",
        "next_poll_at",
    )
    list_filter = ("is_connected", MakeFilter)
    list_select_related = ("account__owner", "last_command", "last_refresh")
    search_fields = ("vin", "smartcar_id", "make", "model", "account__owner__username")
    # Percentages as "77.2 %" (the fields hold 0-100); the last command apart from the data read from the car.
    # Permissions and errors Smartcar reported (a webhook's PERMISSION or VEHICLE_ERROR) as readable lists.
    readonly_fields = [
        {
            **PERCENT_DISPLAYS,
            **SUMMARY_DISPLAYS,
            "missing_permissions": "missing_permissions_display",
            "vehicle_errors": "vehicle_errors_display",
        }.get(f.name, f.name)
        for f in Vehicle._meta.fields
    ] + ["requests_this_month"]
    # Shown through their displays above, never as editable JSON.
    exclude = ("missing_permissions", "vehicle_errors")
    actions = [
        confirmed_action(
            "Lock selected vehicles",
            "Lock",
            _command(VehicleCommand.Action.LOCK),
            question="Lock",
            background=True,
        ),
        confirmed_action(
            "Unlock selected vehicles",
            "Unlock",
            _command(VehicleCommand.Action.UNLOCK),
            question="Unlock",
            background=True,
        ),
        confirmed_action(
            "Refresh data of selected vehicles",
            "Refresh data",
            _refresh,
            question="Refresh the data of",
            background=True,
        ),
        confirmed_action(
            "Disconnect selected vehicles", "Disconnect", _disconnect_vehicle, question="Disconnect"
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Vehicle]:
        # Each vehicle's billed requests this month in the changelist's own query, not one query per row.
        return budget.with_usage(super().get_queryset(request))

    @admin.display(description="Owner", ordering="account__owner")
    def owner(self, vehicle: Vehicle) -> AbstractBaseUser:
        return vehicle.account.owner

    @admin.display(description="Requests this month", ordering=budget.USED_THIS_MONTH)
    def requests_this_month(self, vehicle: Vehicle) -> str:
        """Billed Smartcar requests against the plan, e.g. ``37 / 500``; the polling state beside the next poll."""
        usage = budget.usage(vehicle)
        return f"{usage.used} / {usage.limit}" if usage.limit else str(usage.used)

    @admin.display(description="Battery", ordering="battery_percent_remaining")
    def battery_percent(self, vehicle: Vehicle) -> str | None:
        return format_percent(vehicle.battery_percent_remaining)

    @admin.display(description="Fuel", ordering="fuel_percent_remaining")
    def fuel_percent(self, vehicle: Vehicle) -> str | None:
        return format_percent(vehicle.fuel_percent_remaining)

    @admin.display(description="Oil life remaining", ordering="oil_life_remaining")
    def oil_life_percent(self, vehicle: Vehicle) -> str | None:
        return format_percent(vehicle.oil_life_remaining)

    @admin.display(description="Missing permissions")
    def missing_permissions_display(self, vehicle: Vehicle) -> str:
        return ", ".join(sorted(vehicle.missing_permissions or {})) or "-"

    @admin.display(description="Unresolved errors")
    def vehicle_errors_display(self, vehicle: Vehicle) -> str:
        errors = vehicle.vehicle_errors or {}
        return "; ".join(f"{key} (since {errors[key]})" for key in sorted(errors)) or "-"

    @admin.display(description="Problems")
    def problems(self, vehicle: Vehicle) -> str:
        """A list indicator: unresolved errors and missing permissions, in a few words, or nothing."""
        parts = [
            str(key).partition(":")[2].replace("_", " ").lower()
            for key in sorted(vehicle.vehicle_errors or {})
        ]
        missing = sorted(vehicle.missing_permissions or {})
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        return "; ".join(parts) or "-"

    @admin.display(description="Last command", ordering="last_command__requested_at")
    def last_command_summary(self, vehicle: Vehicle) -> str | None:
        command = vehicle.last_command
        if command is None:
            return None
        when = f"{timezone.localtime(command.requested_at):%Y-%m-%d %H:%M %Z}"
        return f"{command.get_action_display()}: {command.get_status_display().lower()} (requested {when})"

    @admin.display(description="Last refresh", ordering="last_refresh__requested_at")
    def last_refresh_summary(self, vehicle: Vehicle) -> str | None:
        refresh = vehicle.last_refresh
        if refresh is None:
            return None
        when = f"{timezone.localtime(refresh.requested_at):%Y-%m-%d %H:%M %Z}"
        return f"{refresh.summary} (requested {when})"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(VehicleRefresh)
class VehicleRefreshAdmin(admin.ModelAdmin):
    list_display = ("requested_at", "vehicle", "requested_by", "status", "completed_at", "error_type")
    list_filter = ("status",)
    list_select_related = ("vehicle", "requested_by")
    readonly_fields = [f.name for f in VehicleRefresh._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: VehicleRefresh | None = None) -> bool:
        return False


@admin.register(VehicleCommand)
class VehicleCommandAdmin(admin.ModelAdmin):
    list_display = (
        "requested_at",
        "action",
        "vehicle",
        "requested_by",
        "status",
        "smartcar_request_id",
        "error_type",
    )
    list_filter = ("status", "action")
    list_select_related = ("vehicle", "requested_by")
    readonly_fields = [f.name for f in VehicleCommand._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WebhookEvent | None = None) -> bool:
        return False


@admin.register(VehicleSignal)
class VehicleSignalAdmin(SignalDisplayMixin, admin.ModelAdmin):
    """Every vehicle's signals, read-only: searchable by code or vehicle, filtered by status or group."""

    list_display = (
        "code",
        "vehicle",
        "group",
        "value",
        "status",
        "error_display",
        "oem_updated_at",
        "retrieved_at",
    )
    list_filter = ("status", "group")
    list_select_related = ("vehicle",)
    search_fields = ("code", "name", "group", "vehicle__smartcar_id", "vehicle__vin")
    readonly_fields = [*(f.name for f in VehicleSignal._meta.fields), "value", "data_group", "error_display"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: VehicleSignal | None = None) -> bool:
        return False


def _reprocess(request: HttpRequest, event: WebhookEvent) -> str:
    if event.processed_at is not None:
        return "already processed."
    try:
        webhooks.process_event(event.pk)
    except Exception as exc:  # any failure is already recorded on the event; report it like the others
        raise DjangoSmartcarError(f"failed again: {exc}") from exc
    return "processed."


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("received_at", "event_type", "event_id", "status", "attempts", "processed_at")
    list_filter = ("event_type", ("processed_at", admin.EmptyFieldListFilter))
    search_fields = ("event_id", "event_type")
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]
    actions = [
        confirmed_action(
            "Reprocess selected events",
            "Reprocess",
            _reprocess,
            permissions=("change",),
            question="Reprocess",
        )
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
