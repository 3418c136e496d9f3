"""The simulator's state: applications, users, vehicles, grants, tokens, faults and webhooks.

Everything lives in the database so that every thread, process and Celery worker talking to the simulator sees
the same Smartcar. Tokens and codes are stored as sha256 digests only.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class Application(models.Model):
    """A Smartcar application, as registered on Smartcar's dashboard."""

    client_id = models.CharField(max_length=200, unique=True)
    client_secret_hash = models.CharField(max_length=64)
    # Kept readable: it is the HMAC key that signs webhook deliveries, as on Smartcar's dashboard.
    management_token = models.CharField(max_length=200, unique=True)
    name = models.CharField(max_length=200, default="Simulated application")
    redirect_uris = models.JSONField(default=list)
    # API V3's "API credentials" (client-credentials grant at /oauth2/token): the id starts "client_"; Connect
    # keeps using ``client_id`` (the Application ID) in both APIs.
    api_client_id = models.CharField(max_length=200, unique=True, null=True, blank=True)
    api_client_secret_hash = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.client_id})"


class AppToken(models.Model):
    """An API V3 application token (client-credentials grant): one hour, no refresh token."""

    token_hash = models.CharField(max_length=64, unique=True)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="app_tokens")
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"application token of {self.application_id} (expires {self.expires_at:%Y-%m-%d %H:%M})"


class SimulatedUser(models.Model):
    """A vehicle owner: whoever signs in to Connect with this email."""

    id = models.CharField(max_length=36, primary_key=True)
    email = models.EmailField(unique=True)

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


class Powertrain(models.TextChoices):
    ELECTRIC = "EV", "Electric"
    FUEL = "FUEL", "Fuel"
    # Plug-in hybrid: a traction battery and a fuel tank, so both /battery and /fuel answer.
    PLUG_IN_HYBRID = "PHEV", "Plug-in hybrid"


class SimulatedVehicle(models.Model):
    """A car and a snapshot of its state at ``state_at``; ``vehicle_state.live_state`` moves it on from there."""

    id = models.CharField(max_length=36, primary_key=True)
    user = models.ForeignKey(SimulatedUser, on_delete=models.CASCADE, related_name="vehicles")
    make = models.CharField(max_length=50)
    model = models.CharField(max_length=100)
    year = models.PositiveIntegerField()
    vin = models.CharField(max_length=17, unique=True)
    powertrain = models.CharField(max_length=4, choices=Powertrain.choices)

    # The car drives round a circle centred here; its position follows from the odometer.
    home_latitude = models.FloatField()
    home_longitude = models.FloatField()
    odometer_km = models.FloatField()
    speed_kmh = models.FloatField(default=0)

    battery_level = models.FloatField(null=True, blank=True)
    battery_capacity_kwh = models.FloatField(null=True, blank=True)
    efficiency_km_per_kwh = models.FloatField(null=True, blank=True)
    is_plugged_in = models.BooleanField(default=False)
    is_charging = models.BooleanField(default=False)
    charge_rate_kw = models.FloatField(null=True, blank=True)
    charge_limit = models.FloatField(null=True, blank=True)

    fuel_level = models.FloatField(null=True, blank=True)
    tank_capacity_liters = models.FloatField(null=True, blank=True)
    efficiency_km_per_liter = models.FloatField(null=True, blank=True)
    oil_life = models.FloatField(null=True, blank=True)

    tire_pressure_kpa = models.JSONField(default=dict)
    is_locked = models.BooleanField(default=True)
    state_at = models.DateTimeField()

    # How old the car's readings are when Smartcar answers (a car that has not reported for hours): the answer
    # is the state at now minus this, and its sc-data-age header says so.
    data_age_hours = models.FloatField(default=0)
    # A car that sleeps: awake for ``awake_minutes``, then asleep for ``asleep_minutes``, round and round on the
    # simulator's clock (its phase follows from its id), except while driving or charging. Empty: never sleeps.
    awake_minutes = models.PositiveIntegerField(null=True, blank=True)
    asleep_minutes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["user_id", "vin"]

    def __str__(self) -> str:
        return f"{self.year} {self.make} {self.model} ({self.vin})"

    @property
    def is_electric(self) -> bool:
        """Battery-electric only (no fuel tank); see ``has_battery`` and ``has_fuel`` for plug-in hybrids."""
        return self.powertrain == Powertrain.ELECTRIC

    @property
    def has_battery(self) -> bool:
        return self.powertrain in (Powertrain.ELECTRIC, Powertrain.PLUG_IN_HYBRID)

    @property
    def has_fuel(self) -> bool:
        return self.powertrain in (Powertrain.FUEL, Powertrain.PLUG_IN_HYBRID)


class Grant(models.Model):
    """What one Connect approval gave an application: a user's chosen vehicles under a scope."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="grants")
    user = models.ForeignKey(SimulatedUser, on_delete=models.CASCADE, related_name="grants")
    vehicles = models.ManyToManyField(SimulatedVehicle, related_name="grants")
    scope = models.JSONField(default=list)
    mode = models.CharField(max_length=10, default="live")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.user} -> {self.application}: {' '.join(self.scope)}"


class Connection(models.Model):
    """A vehicle connected to an application, as the management API lists it."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="connections")
    user = models.ForeignKey(SimulatedUser, on_delete=models.CASCADE, related_name="connections")
    vehicle = models.ForeignKey(SimulatedVehicle, on_delete=models.CASCADE, related_name="connections")
    connected_at = models.DateTimeField()
    # API V3 names a connection by a uuid of its own (GET/DELETE /v3/connections/{id}).
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    class Meta:
        ordering = ["-connected_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "vehicle"], name="simulator_one_connection_per_vehicle"
            )
        ]

    def __str__(self) -> str:
        return f"{self.vehicle_id} connected to {self.application}"


class AuthorizationCode(models.Model):
    code_hash = models.CharField(max_length=64, unique=True)
    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="codes")
    redirect_uri = models.CharField(max_length=2000)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"code for grant {self.grant_id} (expires {self.expires_at:%Y-%m-%d %H:%M})"


class AccessToken(models.Model):
    token_hash = models.CharField(max_length=64, unique=True)
    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="access_tokens")
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"access token for grant {self.grant_id} (expires {self.expires_at:%Y-%m-%d %H:%M})"


class RefreshToken(models.Model):
    token_hash = models.CharField(max_length=64, unique=True)
    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="refresh_tokens")
    expires_at = models.DateTimeField()
    # Set on first use; the token keeps working for a grace period after it, then never again.
    rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"refresh token for grant {self.grant_id} (expires {self.expires_at:%Y-%m-%d %H:%M})"


class FaultKind(models.TextChoices):
    RATE_LIMIT = "rate_limit", "Rate limit (429 with Retry-After)"
    SERVER_ERRORS = "server_errors", "A fraction of 500/502/503/504 answers"
    LATENCY = "latency", "Added latency"
    ASLEEP = "asleep", "Vehicle asleep (409 VEHICLE_STATE)"
    LOSE_TOKEN_RESPONSE = "lose_token_response", "Token issued, response lost (504)"
    CONNECTED_SERVICES_ACCOUNT = (
        "connected_services_account",
        "Owner's car maker account needs action (400 CONNECTED_SERVICES_ACCOUNT)",
    )


class FaultTarget(models.TextChoices):
    API = "api", "Vehicle API"
    TOKEN = "token", "Token endpoint"
    ANY = "any", "Both"


class Fault(models.Model):
    """A switched-on failure; global when ``vehicle`` is empty."""

    kind = models.CharField(max_length=30, choices=FaultKind.choices)
    vehicle = models.ForeignKey(
        SimulatedVehicle, null=True, blank=True, on_delete=models.CASCADE, related_name="faults"
    )
    target = models.CharField(max_length=5, choices=FaultTarget.choices, default=FaultTarget.API)
    retry_after = models.PositiveIntegerField(default=1)
    fraction = models.FloatField(default=1.0)
    statuses = models.JSONField(default=list)
    latency_ms = models.PositiveIntegerField(default=0)
    # The error code of a connected_services_account fault (ACCOUNT_ISSUE, SUBSCRIPTION...).
    code = models.CharField(max_length=30, blank=True, default="")
    # The n-th draw of a fault is random.Random(f"{seed}:{n}"), so a seeded run fails the same requests.
    seed = models.IntegerField(default=0)
    draws = models.PositiveIntegerField(default=0)
    # How many more requests it hits; empty means until cleared.
    remaining = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        where = f"vehicle {self.vehicle_id}" if self.vehicle_id else "global"
        return f"{self.kind} ({where})"


class Webhook(models.Model):
    """A webhook an application registered; deliveries go to ``url`` once it passed the VERIFY handshake."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="webhooks")
    webhook_id = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200, default="Simulated webhook")
    url = models.URLField(max_length=2000)
    version = models.CharField(max_length=3, choices=[("2.0", "2.0"), ("4.0", "4.0")], default="4.0")
    verified_at = models.DateTimeField(null=True, blank=True)
    # As the Management API V3 describes a webhook (set on Smartcar's dashboard, here by register_webhook or the
    # control API). A disabled webhook is sent nothing; re-enabling it sends every subscription a FIRST_DELIVERY.
    is_enabled = models.BooleanField(default=True)
    # Signal codes whose change sends a VEHICLE_STATE by itself (after a command changed them); empty: none,
    # events go out only when asked for (``webhooks.deliver``).
    triggers = models.JSONField(default=list, blank=True)
    # Signal codes every VEHICLE_STATE carries; empty: every signal the simulator knows (``signals.SIGNALS``).
    data_signals = models.JSONField(default=list, blank=True)
    # Where VEHICLE_ERROR events go; empty: to ``url`` like the others.
    error_url = models.URLField(max_length=2000, blank=True, default="")
    # Every vehicle connected to the application afterwards is subscribed to it.
    auto_subscribe = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.webhook_id


def new_subscription_id() -> str:
    return str(uuid.uuid4())


class WebhookSubscription(models.Model):
    """A vehicle subscribed to a webhook, through v2 (``POST /vehicles/<id>/webhooks/<id>``) or the Management
    API V3 (``POST /v3/subscriptions``, which names the user too)."""

    # The id the Management API V3 knows the subscription by.
    subscription_id = models.CharField(max_length=36, unique=True, default=new_subscription_id)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="subscriptions")
    vehicle = models.ForeignKey(
        SimulatedVehicle, on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    # The user whose connection of the vehicle it is (the events' data.user.id); empty: the vehicle's owner.
    user = models.ForeignKey(
        SimulatedUser,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_subscriptions",
    )
    # VEHICLE_ERROR events sent with state ERROR and not yet RESOLVED: [{"type": ..., "code": ...}].
    open_errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["webhook", "vehicle"], name="simulator_one_subscription_per_vehicle"
            )
        ]

    def __str__(self) -> str:
        return f"{self.vehicle_id} -> {self.webhook_id}"

    @property
    def user_id_for_events(self) -> str:
        """Who the events name as ``data.user.id``: the subscription's user, else the vehicle's owner."""
        return self.user_id or self.vehicle.user_id


class PendingDelivery(models.Model):
    """An event waiting to be (re)delivered: a FIRST_DELIVERY not yet sent, or one whose last attempt failed.

    ``payload`` is the event as first built (same ``eventId``); each attempt gets a new ``deliveryId`` and
    ``deliveredAt``. ``attempts`` counts the attempts made; ``due_at`` is on the simulator's clock.
    """

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="pending_deliveries")
    vehicle_id = models.CharField(max_length=36, blank=True)
    event_type = models.CharField(max_length=30)
    # The JSON text: a jsonb column (PostgreSQL) would reorder the keys Smartcar writes in a fixed order.
    payload = models.TextField()
    attempts = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["due_at", "id"]

    def __str__(self) -> str:
        return f"{self.event_type} -> {self.webhook_id} (attempts {self.attempts})"


class ClockOffset(models.Model):
    """One row: how far the simulator's clock runs ahead of the real one (set through the control API)."""

    offset_seconds = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"clock offset {self.offset_seconds:+.0f} s"


class RateBucket(models.Model):
    """Request counting for the simulated limits (see ``limits``): one row per key and period.

    ``key`` names what is counted (``app:<id>``, ``vehicle:<id>``, ``billing:<vehicle id>``); ``period`` the
    window or month it counts in; ``tokens`` and ``updated_at`` hold a token bucket's level.
    """

    key = models.CharField(max_length=100)
    period = models.CharField(max_length=40, default="")
    count = models.PositiveIntegerField(default=0)
    tokens = models.FloatField(default=0)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "period"], name="simulator_one_bucket_per_period")
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.period}: {self.count}"


class RequestCount(models.Model):
    """How many requests the Vehicle API received for one vehicle, method and path (counted on arrival, before
    latency and faults; ``traffic`` keeps it). Not a foreign key: a request for an unknown id counts too."""

    vehicle_id = models.CharField(max_length=100)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=200)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["vehicle_id", "path", "method"]
        constraints = [
            models.UniqueConstraint(
                fields=["vehicle_id", "method", "path"], name="simulator_request_count_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.method} /vehicles/{self.vehicle_id}/{self.path}: {self.count}"
