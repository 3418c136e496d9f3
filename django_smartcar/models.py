"""Connected Smartcar accounts, their vehicles with the last known data, and the audit of commands sent."""

from __future__ import annotations

import hashlib
from typing import Any, TypeAlias

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import crypto
from .brands import display_make
from .client.permissions import permission_name

# A user of the site's user model (settings.AUTH_USER_MODEL), which a reusable app cannot name to the type
# checker: django-stubs resolves the foreign keys to the model of the settings it loads.
SiteUser: TypeAlias = Any

# How many makes a connection's name lists before "and N more".
NAMED_MAKES = 3


class SmartcarAccount(models.Model):
    """One Smartcar user connected by one site user, with that connection's (encrypted) tokens."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        # Refreshing failed for a transient reason (network, 429, 5xx); the next successful refresh clears it.
        REFRESH_FAILING = "refresh_failing", _("Refresh failing")
        # The refresh token is dead (expired, revoked or reused): only the user reconnecting can fix it.
        REAUTH_REQUIRED = "reauth_required", _("Re-authentication required")
        DISCONNECTED = "disconnected", _("Disconnected")

    class Mode(models.TextChoices):
        LIVE = "live", _("Live")
        TEST = "test", _("Test")
        SIMULATED = "simulated", _("Simulated")

    class ApiVersion(models.TextChoices):
        # Per-vehicle access and refresh tokens, rotated before their 60-day expiry.
        V2 = "2.0", _("v2.0")
        # The site's one application token and the Smartcar user id: no tokens stored per account.
        V3 = "3", _("V3")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="smartcar_accounts"
    )
    smartcar_user_id = models.CharField(max_length=100)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.LIVE)
    scope = models.JSONField(default=list, blank=True, help_text=_("Permissions requested when connecting."))
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    # Which Smartcar API the account's vehicles are reached through; services ask services.clients, never this.
    api_version = models.CharField(
        _("API version"), max_length=5, choices=ApiVersion.choices, default=ApiVersion.V2, db_index=True
    )

    # v2 only (V3 accounts hold none: "" and None). Ciphertext only (see crypto.py); use the access_token /
    # refresh_token properties.
    access_token_encrypted = models.TextField(editable=False, blank=True, default="")
    refresh_token_encrypted = models.TextField(editable=False, blank=True, default="")
    access_expires_at = models.DateTimeField(db_index=True, null=True, blank=True)
    refresh_expires_at = models.DateTimeField(db_index=True, null=True, blank=True)

    consecutive_failures = models.PositiveIntegerField(default=0)
    last_refresh_error = models.CharField(max_length=255, blank=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    # Set when the beat queues a rotation, so that a second beat (or the next one) does not queue it again.
    rotation_queued_at = models.DateTimeField(null=True, blank=True)
    # Set (and committed) when the stored refresh token is first presented to Smartcar, cleared with the new
    # tokens or a definite failure. Still set with nobody holding the account's lock: the process died
    # mid-exchange, and the token must be presented again while Smartcar still accepts it.
    token_exchange_started_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)
    connected_at = models.DateTimeField(default=timezone.now)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("Smartcar account")
        verbose_name_plural = _("Smartcar accounts")
        constraints = [
            models.UniqueConstraint(
                fields=["smartcar_user_id", "mode"], name="django_smartcar_unique_smartcar_user_per_mode"
            ),
        ]

    def __str__(self) -> str:
        # Read by people (admin lists, confirmation pages, messages): the owner's name and enough of the
        # Smartcar user id to tell two accounts apart. Load ``owner`` with select_related where many are shown.
        return f"{self.owner.get_username()} (Smartcar {self.smartcar_user_id[:8]})"

    def __repr__(self) -> str:
        # Spelled out so that no future field ever leaks a token into a traceback.
        return f"<SmartcarAccount pk={self.pk} smartcar_user_id={self.smartcar_user_id!r} status={self.status!r}>"

    @property
    def access_token(self) -> str:
        return crypto.decrypt(self.access_token_encrypted)

    @access_token.setter
    def access_token(self, value: str) -> None:
        self.access_token_encrypted = crypto.encrypt(value)

    @property
    def refresh_token(self) -> str:
        return crypto.decrypt(self.refresh_token_encrypted)

    @refresh_token.setter
    def refresh_token(self, value: str) -> None:
        self.refresh_token_encrypted = crypto.encrypt(value)

    @property
    def is_usable(self) -> bool:
        return self.status in USABLE_STATUSES

    @property
    def uses_v3(self) -> bool:
        """Read by services.clients alone (the one place the API version is decided) and by displays."""
        return self.api_version == self.ApiVersion.V3

    @property
    def display_name(self) -> str:
        """The connection as its owner knows it: who connected it and the makes it holds.

        ``"Ann Smith's BMW, Tesla and Toyota connection"`` (the owner's full name, else username), or
        ``"ann's Smartcar connection"`` while no connected car is left. Reads ``vehicles.all()``: prefetch
        ``vehicles`` (and ``owner``) where many accounts are shown; only connected cars are counted.
        """
        owner = self.owner.get_full_name().strip() or self.owner.get_username()
        makes = sorted(
            {
                vehicle.display_make
                for vehicle in self.vehicles.all()
                if vehicle.is_connected and vehicle.make
            },
            key=str.casefold,
        )
        if len(makes) > NAMED_MAKES:
            makes = [*makes[:NAMED_MAKES], f"{len(makes) - NAMED_MAKES} more"]
        if not makes:
            held = "Smartcar"
        elif len(makes) == 1:
            held = makes[0]
        else:
            held = f"{', '.join(makes[:-1])} and {makes[-1]}"
        return f"{owner}'s {held} connection"


# Statuses in which the account's tokens can still be used and refreshed.
USABLE_STATUSES = (SmartcarAccount.Status.ACTIVE, SmartcarAccount.Status.REFRESH_FAILING)


class VehicleQuerySet(models.QuerySet["Vehicle"]):
    def connected(self) -> VehicleQuerySet:
        return self.filter(is_connected=True)

    def owned_by(self, user: SiteUser) -> VehicleQuerySet:
        return self.filter(account__owner=user)


class Vehicle(models.Model):
    """A car reachable through an account, with the last data Smartcar reported (always metric, percentages
    0-100).

    Each group of data carries the age Smartcar gave it (``sc-data-age``); services only overwrite a group with
    data that is newer, so a late webhook or a slow poll never rolls the state back.
    """

    account = models.ForeignKey(SmartcarAccount, on_delete=models.CASCADE, related_name="vehicles")
    smartcar_id = models.CharField(max_length=100, unique=True)
    vin = models.CharField(max_length=17, blank=True)
    make = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=100, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    permissions = models.JSONField(default=list, blank=True)
    is_connected = models.BooleanField(default=True, db_index=True)
    connected_at = models.DateTimeField(default=timezone.now)
    disconnected_at = models.DateTimeField(null=True, blank=True)

    odometer_km = models.FloatField(null=True, blank=True)
    odometer_age = models.DateTimeField(null=True, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    location_age = models.DateTimeField(null=True, blank=True)
    fuel_percent_remaining = models.FloatField(null=True, blank=True, help_text=_("Percent, 0-100."))
    fuel_range_km = models.FloatField(null=True, blank=True)
    fuel_amount_liters = models.FloatField(null=True, blank=True)
    fuel_age = models.DateTimeField(null=True, blank=True)
    battery_percent_remaining = models.FloatField(null=True, blank=True, help_text=_("Percent, 0-100."))
    battery_range_km = models.FloatField(null=True, blank=True)
    battery_age = models.DateTimeField(null=True, blank=True)
    charge_state = models.CharField(max_length=20, blank=True)
    is_plugged_in = models.BooleanField(null=True, blank=True)
    charge_age = models.DateTimeField(null=True, blank=True)
    is_locked = models.BooleanField(null=True, blank=True)
    lock_status = models.JSONField(null=True, blank=True, help_text=_("Doors, windows, sunroof, storage..."))
    lock_age = models.DateTimeField(null=True, blank=True)
    oil_life_remaining = models.FloatField(null=True, blank=True, help_text=_("Percent, 0-100."))
    oil_age = models.DateTimeField(null=True, blank=True)
    tire_pressure_kpa = models.JSONField(null=True, blank=True)
    tires_age = models.DateTimeField(null=True, blank=True)
    data_refreshed_at = models.DateTimeField(
        _("last read from the car"),
        null=True,
        blank=True,
        help_text=_(
            "When data was last read from the car (a refresh or a webhook). Commands do not change it."
        ),
    )
    last_command = models.ForeignKey(
        "VehicleCommand",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The latest command sent to the car, whatever its outcome; not data read from the car."),
    )
    last_refresh = models.ForeignKey(
        "VehicleRefresh",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_(
            "The latest refresh asked for (a page, the admin or the API), pending or with its outcome."
        ),
    )
    # {data group name: ISO time it was learnt}: what Smartcar said this vehicle cannot give
    # (COMPATIBILITY:VEHICLE_NOT_CAPABLE); refreshes skip it until NOT_CAPABLE_RECHECK_AFTER has passed.
    not_capable = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("Data points Smartcar says this vehicle cannot give, and when that was learnt."),
    )
    # {permission: ISO time it was learnt}: permissions a webhook said the app lacks for this vehicle (a per-signal
    # PERMISSION error, not the whole connection's); refreshes skip their data until a sync, a re-authentication,
    # data of that permission, or a RESOLVED error clears them.
    missing_permissions = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("Permissions Smartcar says the app lacks for this vehicle, and when that was learnt."),
    )
    # {"TYPE:CODE": ISO time it was learnt}: VEHICLE_STATE errors (asleep, unreachable) a webhook reported and no
    # RESOLVED event (nor a successful refresh) has cleared yet; a refresh is queued to retry later.
    vehicle_errors = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("Errors Smartcar reported for this vehicle (asleep, unreachable) and not yet resolved."),
    )
    # Adaptive polling (services/polling.py): when beat reads the car next, and why then.
    next_poll_at = models.DateTimeField(
        _("next poll"),
        null=True,
        blank=True,
        db_index=True,
        help_text=_("When scheduled polling reads this vehicle next (empty: at the next round)."),
    )
    poll_reason = models.CharField(
        _("polling state"),
        max_length=40,
        blank=True,
        help_text=_("What set the next poll: charging, driving, parked, asleep, webhook, budget..."),
    )
    # Failures of the same kind in a row (asleep, unreachable): each one doubles the wait, up to POLL_INTERVAL_MAX.
    poll_failures = models.PositiveSmallIntegerField(default=0, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = VehicleQuerySet.as_manager()

    class Meta:
        verbose_name = _("vehicle")
        verbose_name_plural = _("vehicles")
        permissions = [("send_vehicle_commands", _("Can send commands (lock, unlock, charge) to vehicles"))]

    def __str__(self) -> str:
        name = " ".join(str(part) for part in (self.year, self.display_make, self.model) if part)
        return name or self.smartcar_id

    def __repr__(self) -> str:
        return f"<Vehicle pk={self.pk} smartcar_id={self.smartcar_id!r}>"

    @property
    def display_make(self) -> str:
        """The make as the brand writes it (``Tesla``, ``BMW``, ``Mercedes-Benz``); ``make`` keeps Smartcar's
        value (``TESLA``)."""
        return display_make(self.make)

    @property
    def map_url(self) -> str:
        """The last known location on OpenStreetMap, or ``""`` while none is known."""
        if self.latitude is None or self.longitude is None:
            return ""
        latitude, longitude = f"{self.latitude:.5f}", f"{self.longitude:.5f}"
        return (
            f"https://www.openstreetmap.org/?mlat={latitude}&mlon={longitude}#map=16/{latitude}/{longitude}"
        )

    def has_permission(self, permission: str) -> bool:
        """Granted when connecting (a scope item such as ``required:read_vin`` is read as its permission), and
        not reported missing by Smartcar since."""
        name = permission_name(permission)
        return name in (self.permissions or []) and name not in (self.missing_permissions or {})


class VehicleSignal(models.Model):
    """The latest value of one signal a vehicle reported (API V3 signals, v4 webhooks), by signal code.

    Kept as Smartcar sent it (``body``, ``status``, ``error``) with its times, so that newer data never loses to
    older for each signal on its own: a value replaces the stored one only when its ``oem_updated_at`` (else
    ``retrieved_at``) is newer. The vehicle's typed fields (odometer, battery...) are fed from the same signals.
    """

    class Status(models.TextChoices):
        SUCCESS = "SUCCESS", _("Success")
        ERROR = "ERROR", _("Error")
        UNAVAILABLE = "UNAVAILABLE", _("Unavailable")

    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="signals")
    code = models.CharField(
        max_length=100, help_text=_("Smartcar's signal code, e.g. odometer-traveleddistance.")
    )
    name = models.CharField(max_length=100, blank=True)
    group = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SUCCESS)
    body = models.JSONField(null=True, blank=True, help_text=_("The signal's value, as Smartcar sent it."))
    error = models.JSONField(null=True, blank=True, help_text=_("type and code, when status is ERROR."))
    oem_updated_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the car recorded the value.")
    )
    retrieved_at = models.DateTimeField(null=True, blank=True, help_text=_("When Smartcar read it."))
    received_at = models.DateTimeField(default=timezone.now, help_text=_("When this app stored it."))

    class Meta:
        verbose_name = _("vehicle signal")
        verbose_name_plural = _("vehicle signals")
        ordering = ["group", "name", "code"]
        constraints = [
            models.UniqueConstraint(fields=["vehicle", "code"], name="django_smartcar_one_signal_per_code"),
        ]

    def __str__(self) -> str:
        return f"{self.code} of vehicle {self.vehicle_id}"

    def __repr__(self) -> str:
        return f"<VehicleSignal pk={self.pk} vehicle_id={self.vehicle_id} code={self.code!r}>"


class ApplicationToken(models.Model):
    """The site's API V3 application token (client-credentials grant, one hour, no refresh token), shared by every
    web and worker process so that the site asks IAM for one token an hour, not one per process.

    One row per API client id (``key`` is a hash of it and the IAM origin); the token is encrypted like the
    accounts' tokens.
    """

    key = models.CharField(max_length=64, unique=True)
    token_encrypted = models.TextField(editable=False, blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    obtained_at = models.DateTimeField(null=True, blank=True)
    # Token requests made for this row (successful or not): what "one request an hour per site" is checked by.
    requests_made = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = _("application token")
        verbose_name_plural = _("application tokens")

    def __str__(self) -> str:
        return f"Application token {self.key[:8]}"

    def __repr__(self) -> str:
        return f"<ApplicationToken pk={self.pk} expires_at={self.expires_at!r}>"

    @property
    def token(self) -> str:
        return crypto.decrypt(self.token_encrypted) if self.token_encrypted else ""

    @token.setter
    def token(self, value: str) -> None:
        self.token_encrypted = crypto.encrypt(value) if value else ""


class VehicleRequestUsage(models.Model):
    """The ledger of billed Smartcar requests: one row per vehicle per calendar month (UTC).

    Every billed call is counted here before it is sent (``services.budget.reserve``) and given back when
    Smartcar refused it unbilled (a rate limit, the billing limit itself, a connection never made), so the
    scheduler reads what Smartcar will bill. ``scheduled`` is polling and other background reads; ``by_user``
    is people's refreshes and commands, which may use the share of the budget polling leaves them.
    """

    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="request_usage")
    month = models.DateField(help_text=_("The first day of the month counted."))
    scheduled = models.PositiveIntegerField(default=0, help_text=_("Polls and other background reads."))
    by_user = models.PositiveIntegerField(default=0, help_text=_("Refreshes and commands people asked for."))
    warned = models.BooleanField(default=False, help_text=_("vehicle_budget_nearing was sent this month."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("vehicle request usage")
        verbose_name_plural = _("vehicle request usage")
        constraints = [
            models.UniqueConstraint(fields=["vehicle", "month"], name="smartcar_usage_vehicle_month")
        ]

    def __str__(self) -> str:
        return f"{self.vehicle_id} {self.month:%Y-%m}: {self.total}"

    def __repr__(self) -> str:
        return (
            f"<VehicleRequestUsage vehicle_id={self.vehicle_id} month={self.month:%Y-%m} total={self.total}>"
        )

    @property
    def total(self) -> int:
        return self.scheduled + self.by_user


class AppRequestBucket(models.Model):
    """The app's own copy of Smartcar's application rate-limit bucket, shared by every process
    (``services.pacing``): bulk work takes tokens here before sending, so Smartcar never has to refuse it."""

    key = models.CharField(max_length=64, unique=True)
    tokens = models.FloatField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("application request bucket")
        verbose_name_plural = _("application request buckets")

    def __str__(self) -> str:
        return f"{self.key}: {self.tokens:.1f} requests"


class VehicleCommand(models.Model):
    """An audit row for every command sent to a car: who asked, what happened, Smartcar's request id."""

    class Action(models.TextChoices):
        LOCK = "lock", _("Lock")
        UNLOCK = "unlock", _("Unlock")
        START_CHARGE = "start_charge", _("Start charging")
        STOP_CHARGE = "stop_charge", _("Stop charging")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="commands")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="smartcar_vehicle_commands",
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    requested_at = models.DateTimeField(default=timezone.now, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    smartcar_request_id = models.CharField(max_length=100, blank=True)
    message = models.CharField(max_length=255, blank=True)
    error_type = models.CharField(max_length=50, blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    error_message = models.TextField(blank=True)
    retry_after = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Seconds Smartcar asked to wait before trying again (rate limits)."),
    )

    class Meta:
        verbose_name = _("vehicle command")
        verbose_name_plural = _("vehicle commands")
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.vehicle_id} ({self.status})"

    @property
    def progress_display(self) -> str:
        """What the command is doing while pending, for people: ``"Locking..."``."""
        return COMMAND_PROGRESS.get(str(self.action), f"{self.get_action_display()}...")


# How a pending command reads on a page.
COMMAND_PROGRESS: dict[str, str] = {
    "lock": "Locking...",
    "unlock": "Unlocking...",
    "start_charge": "Starting to charge...",
    "stop_charge": "Stopping charging...",
}


class VehicleRefresh(models.Model):
    """A refresh of a vehicle's data asked for from a page, the admin or the API, run by a Celery worker.

    Created ``pending`` when it is queued; the worker records what it read (``updated``), what failed
    (``errors``) and what the car cannot give (``not_capable``). ``failed`` means nothing at all could be read
    (``error_type`` / ``error_message`` say why), the rule of ``services.vehicles.RefreshResult.failed``.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="refreshes")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="smartcar_vehicle_refreshes",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    requested_at = models.DateTimeField(default=timezone.now, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated = models.JSONField(default=list, blank=True, help_text=_("Data groups that changed."))
    not_capable = models.JSONField(
        default=list, blank=True, help_text=_("Data groups Smartcar said this vehicle cannot give.")
    )
    errors = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Data points that could not be read: path, data_point, reason, type, code, detail."),
    )
    error_type = models.CharField(max_length=50, blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        verbose_name = _("vehicle refresh")
        verbose_name_plural = _("vehicle refreshes")
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"Refresh {self.vehicle_id} ({self.status})"

    @property
    def summary(self) -> str:
        """The outcome in one line for people: ``"refreshed odometer, fuel; could not read location: rate
        limited"``, or why it failed; ``"pending"`` while queued."""
        if self.status == self.Status.PENDING:
            return "pending"
        if self.status == self.Status.FAILED:
            return f"failed: {self.error_message}"
        text = f"refreshed {', '.join(self.updated)}" if self.updated else "nothing newer to report"
        failures = "; ".join(
            f"{error.get('data_point')}: {error.get('reason')}" for error in self.errors or []
        )
        return text + (f"; could not read {failures}" if failures else "")


class ConnectState(models.Model):
    """A single-use, expiring OAuth ``state``, bound to the user (and browser session) that started Connect.

    Only a hash of the state is stored: the value itself travels through the browser and must not be
    reconstructible from a database dump.
    """

    state_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session_key_hash = models.CharField(max_length=64, blank=True)
    next_url = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("Connect state")
        verbose_name_plural = _("Connect states")

    def __str__(self) -> str:
        return f"Connect state for user {self.user_id}"

    @staticmethod
    def hash(value: str) -> str:
        return hashlib.sha256(value.encode()).hexdigest()


class WebhookEvent(models.Model):
    """A Smartcar webhook delivery, kept as received (raw body and headers) and processed in the background.

    Only deliveries whose ``SC-Signature`` verified are stored. Smartcar delivers at least once and out of
    order: ``event_id`` is unique, so a repeat is accepted and not processed twice, and vehicle data from an
    event goes through the same newer-data-wins rule as polling.
    """

    event_id = models.CharField(max_length=100, unique=True)
    event_type = models.CharField(max_length=50, db_index=True)
    endpoint = models.CharField(max_length=100, help_text=_("The receiver URL id the event arrived at."))
    version = models.CharField(max_length=10, blank=True)
    body = models.TextField(help_text=_("The raw request body, exactly as signed."))
    headers = models.JSONField(default=dict)
    # Which management token verified the signature: 0 is the newest; more during a token rotation.
    verified_with = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"

    @property
    def status(self) -> str:
        if self.processed_at:
            return "processed"
        return "failed" if self.last_error else "pending"
