"""The app's settings: one ``SMARTCAR = {...}`` dict, environment fallbacks, defaults.

Values are read at every access (never cached, never at import time), so ``override_settings`` and settings
changed by tests or by a deployment's environment are always honoured::

    from django_smartcar.conf import smartcar_settings

    smartcar_settings.CLIENT_ID
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .client import config as client_config
from .client.config import ALL_SCOPES, CONNECT_MODES, UNIT_SYSTEMS
from .client.transport import CALL_CLASSES

# Re-exported for the checks; the client is where Smartcar's vocabulary lives.
MODES = CONNECT_MODES
__all__ = ["ALL_SCOPES", "DEFAULTS", "MODES", "SCHEMA", "UNIT_SYSTEMS", "smartcar_settings"]


DEFAULTS: dict[str, Any] = {
    # The Smartcar application's credentials (Smartcar dashboard).
    "CLIENT_ID": None,
    "CLIENT_SECRET": None,
    # The Smartcar API that new connections use: "3" (API V3: one application token, user-scoped signals and
    # commands; Smartcar's recommendation) or "2.0" (per-vehicle tokens, deprecated by Smartcar). Each account
    # records the API it was connected with; ``manage.py smartcar_migrate_to_v3`` moves v2 accounts.
    "API_VERSION": "3",
    # API V3's credentials (Smartcar dashboard, "API credentials": the client id starts with ``client_``): they
    # get the application token from IAM. CLIENT_ID stays the Application ID, which Connect takes in both APIs.
    "API_CLIENT_ID": None,
    "API_CLIENT_SECRET": None,
    # Either a full redirect URI registered with Smartcar, or None to build it from REDIRECT_URL_NAME and the
    # incoming request's host.
    "REDIRECT_URI": None,
    "REDIRECT_URL_NAME": "django_smartcar:callback",
    # What Connect asks the user to grant: any documented permission (client/permissions.py), optionally
    # "required:" so that the owner cannot untick it; check E004 validates the names.
    "SCOPE": [
        "read_vehicle_info",
        "read_vin",
        "read_odometer",
        "read_location",
        "read_fuel",
        "read_battery",
        "read_charge",
        "read_security",
        "control_security",
    ],
    "MODE": "live",
    "UNIT_SYSTEM": "metric",
    # Smartcar's origins; point them at the simulator for development and tests.
    # Smartcar's hosts, as the client knows them (client/config.py is their one home).
    "CONNECT_ORIGIN": client_config.DEFAULT_CONNECT_ORIGIN,
    "AUTH_ORIGIN": client_config.DEFAULT_AUTH_URL,
    "API_ORIGIN": client_config.DEFAULT_API_ORIGIN,
    "MANAGEMENT_API_ORIGIN": client_config.DEFAULT_MANAGEMENT_ORIGIN,
    "IAM_ORIGIN": client_config.DEFAULT_IAM_ORIGIN,
    "VEHICLE_API_V3_ORIGIN": client_config.DEFAULT_VEHICLE_API_V3_ORIGIN,
    "MANAGEMENT_API_V3_ORIGIN": client_config.DEFAULT_MANAGEMENT_API_V3_ORIGIN,
    # The application token (one hour, no refresh token) is renewed this long before it expires. One token
    # serves the whole site: every process reads it, encrypted, from the database.
    "APP_TOKEN_RENEW_BEFORE": timedelta(minutes=5),
    # Fernet keys (urlsafe base64, 32 bytes) that encrypt tokens at rest, newest first. Older keys still decrypt,
    # so a key is rotated by putting a new one first and running ``manage.py smartcar_reencrypt_tokens``.
    "ENCRYPTION_KEYS": [],
    # Access tokens are refreshed this long before they expire, so a request never starts with a dying token.
    "ACCESS_TOKEN_REFRESH_MARGIN": timedelta(minutes=5),
    # Refresh tokens live 60 days; rotate them when this much of their life is left.
    "REFRESH_TOKEN_ROTATION_WINDOW": timedelta(days=10),
    # Each account rotates up to this much later than the window opens (stable per account), so that accounts
    # connected on the same day do not all hit Smartcar in the same beat.
    "ROTATION_JITTER": timedelta(days=2),
    # An account queued for rotation is not queued again before this long (its task may still be retrying).
    "ROTATION_REQUEUE_AFTER": timedelta(hours=1),
    # A refresh whose answer failed (lost, time-out, 5xx, 429 with a short Retry-After) is repeated at once, under
    # the account's lock, on every path, the last attempt starting at most this long after the first: Smartcar
    # accepts the used refresh token again for a minute only (its shortest documented grace window).
    "TOKEN_EXCHANGE_RETRY_WINDOW": timedelta(seconds=25),
    # Beat: how often exchanges left in flight by a killed process are looked for and resumed.
    "EXCHANGE_RECOVERY_INTERVAL": timedelta(seconds=15),
    # A refresh token this close to expiry without a successful rotation is logged at ERROR and signalled.
    "EXPIRY_ALERT_WINDOW": timedelta(hours=48),
    # Celery: retries of a transient Smartcar failure (backoff doubles from RETRY_BACKOFF seconds, with jitter).
    "TASK_MAX_RETRIES": 5,
    "RETRY_BACKOFF": 5,
    # Beat: how often expiring tokens are looked for.
    "ROTATION_CHECK_INTERVAL": timedelta(hours=1),
    # Beat: refresh every connected vehicle at this fixed interval, whatever it costs (None, the default: adaptive
    # polling, POLL_*, decides when each vehicle is read). Both go through the request budget.
    "VEHICLE_REFRESH_INTERVAL": None,
    # --- Smartcar's budget (services/budget.py, services/pacing.py) ---
    # Billed requests per vehicle per calendar month (UTC) of your Smartcar plan; None: unlimited. Every billed
    # call is counted before it is sent (each v2 batch item, a V3 signals read, each command), so none passes it.
    "MONTHLY_REQUESTS_PER_VEHICLE": 500,
    # The share of that budget scheduled polling never uses: kept for people's refreshes and commands.
    "USER_RESERVED_SHARE": 0.2,
    # ``vehicle_budget_nearing`` is sent once a month when a vehicle's use passes this share of its budget.
    "BUDGET_WARNING_THRESHOLD": 0.8,
    # Smartcar's application rate limit: a bucket of ``capacity`` requests refilling ``refill_per_minute``
    # (Smartcar's default, raised on request for large fleets). Bulk work paces itself under it, every process
    # drawing from one bucket in the database; None: no pacing.
    "APP_RATE_LIMIT": {"capacity": 120, "refill_per_minute": 2},
    # --- Adaptive polling (services/polling.py) ---
    # Beat: how often vehicles due for a poll are looked for (None: no polling; webhooks and people only).
    "POLL_DISPATCH_INTERVAL": timedelta(minutes=1),
    # How long after a read a vehicle is read again, by what the app last learnt of it. Failures back off:
    # "asleep" and "unreachable" double at each failure in a row, up to POLL_INTERVAL_MAX; a rate limit waits
    # for Smartcar's Retry-After. The month's remaining budget, spread over the month's remaining time, is a floor.
    "POLL_INTERVALS": {
        "charging": timedelta(hours=1),
        "driving": timedelta(minutes=30),
        "parked": timedelta(hours=12),
        "asleep": timedelta(hours=12),
        "unreachable": timedelta(hours=2),
        "failed": timedelta(hours=6),
    },
    "POLL_INTERVAL_MAX": timedelta(days=2),
    # Data a webhook delivered is fresh this long: the vehicle is not polled meanwhile (webhooks are unbilled).
    "WEBHOOK_FRESH_FOR": timedelta(hours=12),
    # --- Bulk work (services/bulk.py) ---
    # Vehicles per refresh task, and Smartcar requests each task keeps in flight at once (on one event loop in
    # the worker; memory grows with this number, not with the fleet).
    "BULK_CHUNK_SIZE": 1000,
    "BULK_MAX_IN_FLIGHT": 256,
    # Ids handled per database round trip when the beat tasks fan out.
    "FANOUT_CHUNK_SIZE": 500,
    # Rotation: accounts per ``rotate_accounts_tokens`` task, and token exchanges each such task keeps in flight
    # at once (on one event loop, not a thread each).
    "ROTATION_CHUNK_SIZE": 200,
    "ROTATION_MAX_IN_FLIGHT": 50,
    # How long a Connect ``state`` stays valid (seconds).
    "STATE_MAX_AGE": 600,
    # Live (unused, unexpired) Connect states kept per user; starting Connect again drops the oldest beyond it
    # (None: no bound).
    "MAX_CONNECT_STATES_PER_USER": 10,
    # Beat: how often expired Connect states are deleted (None: never, e.g. when a cron runs
    # ``manage.py smartcar_clear_connect_states``).
    "CONNECT_STATE_CLEANUP_INTERVAL": timedelta(hours=1),
    # The cache alias the API's command throttle counts in: it must be shared by every server process
    # (Redis, Memcached, database), or each process lets the full rate through (system check W006).
    "THROTTLE_CACHE": "default",
    # Where the user lands after connecting or disconnecting, when no safe ``next`` was given: a URL name or a
    # path, resolved at every use. The default, the app's own "Your connections" page, exists wherever the app's
    # URLs are included, and shows the success message.
    "CONNECT_SUCCESS_URL": "django_smartcar:connections",
    # HTTP time-out of each class of Smartcar call, in seconds (or a (connect, read) pair): any of "token",
    # "read", "command", "management". A class left out takes REQUEST_TIMEOUT when that is set, else the
    # client's default (client.Timeouts: token 20, read 310, command 310, management 30; vehicle requests take
    # up to 300 s).
    "TIMEOUTS": {},
    # The former single time-out: when set, the fallback of every class TIMEOUTS leaves out.
    "REQUEST_TIMEOUT": None,
    # Application management token (webhook signatures, management API). A list is accepted while rotating it:
    # the first one is used, every one verifies webhook signatures.
    "MANAGEMENT_TOKEN": None,
    # The Smartcar webhook that connected vehicles are subscribed to (None: no subscriptions).
    "WEBHOOK_ID": None,
    # The unguessable id in the receiver's URL (``.../webhooks/<id>/``) registered with Smartcar.
    "WEBHOOK_URL_ID": None,
    # More receivers, one per Smartcar application: {url_id: [management tokens, newest first]}.
    "WEBHOOK_ENDPOINTS": {},
    # Larger webhook bodies are refused with 413 before they are read.
    "WEBHOOK_MAX_BODY_BYTES": 256 * 1024,
    # Beat: how often webhook events still pending are queued again (None: never), and how long an event may
    # stay pending (queued, waiting for a worker) before the sweep queues it again, e.g. after its task was lost
    # with a broker restart or never sent because the broker was down.
    "WEBHOOK_SWEEP_INTERVAL": timedelta(minutes=5),
    "WEBHOOK_PENDING_REQUEUE_AFTER": timedelta(minutes=10),
    # Beat: how often stored webhook events are processed (``dispatch_webhook_events``, in bounded chunks), so the
    # receiver only verifies and stores: no broker round trip inside Smartcar's request. None: the receiver
    # queues one ``process_webhook_event`` per event on commit instead (the behaviour before this setting).
    "WEBHOOK_DISPATCH_INTERVAL": timedelta(seconds=2),
    # Beat: how often queued commands that no worker completed are looked for, and how long after it was
    # requested a still-pending command is marked failed (its task was lost, or its worker killed mid-request).
    "COMMAND_SWEEP_INTERVAL": timedelta(minutes=5),
    "COMMAND_ABANDONED_AFTER": timedelta(minutes=15),
    # Processing attempts of one event, the first included, before the sweep stops retrying a failed event.
    "WEBHOOK_MAX_ATTEMPTS": 3,
    # Vehicle data reported this far in the future is refused (a car's clock may run a little ahead; an age in
    # year 9999 would freeze its data group, since newer data wins).
    "DATA_AGE_FUTURE_TOLERANCE": timedelta(minutes=5),
    # A data point Smartcar says the vehicle cannot give (COMPATIBILITY:VEHICLE_NOT_CAPABLE) is not asked for
    # again for this long: every path of a batch is billed (None: never again, until the vehicle reconnects).
    "NOT_CAPABLE_RECHECK_AFTER": timedelta(days=30),
    # Read each newly connected vehicle's data once in the background (a Celery task queued on commit).
    "REFRESH_ON_CONNECT": True,
    # A webhook saying a vehicle is asleep or unreachable (VEHICLE_STATE error) queues one refresh this much
    # later, to retry (None: no retry; beat's periodic refresh, if any, still runs).
    "WEBHOOK_VEHICLE_STATE_RETRY_AFTER": timedelta(minutes=30),
}


@dataclass(frozen=True)
class Accepts:
    """What one setting accepts: its type(s), whether None is allowed, a lower bound, and whether its value is a
    secret (never echoed in a message). ``bool`` is never taken for a number, although Python says it is one."""

    types: tuple[type, ...]
    none: bool = False
    minimum: int | float | timedelta | None = None
    secret: bool = False

    def describe(self) -> str:
        kinds = [kind for kind in self.types if not (kind is int and float in self.types)]
        text = " or ".join(_TYPE_NAMES.get(kind, kind.__name__) for kind in kinds)
        if isinstance(self.minimum, timedelta):
            text += f" of at least timedelta(seconds={self.minimum.total_seconds():g})"
        elif self.minimum is not None:
            text += f" of at least {self.minimum}"
        return text + (", or None" if self.none else "")


_TYPE_NAMES = {
    bool: "True or False",
    str: "a string",
    int: "an integer",
    float: "a number",
    timedelta: "a datetime.timedelta",
    list: "a list",
    tuple: "a tuple",
    dict: "a dict",
    bytes: "bytes",
}
_STR, _SECONDS, _SEQUENCE = (str,), (int, float), (list, tuple)

# The type of every setting, in one place: a new setting adds one line here next to its DEFAULTS entry
# (tests/app/test_conf.py fails for a setting without one). Checked by ``manage.py check`` (E010) and by the
# accessor at every read, which raises ImproperlyConfigured with the same message.
SCHEMA: dict[str, Accepts] = {
    "CLIENT_ID": Accepts(_STR, none=True),
    "CLIENT_SECRET": Accepts(_STR, none=True, secret=True),
    "API_VERSION": Accepts(_STR),
    "API_CLIENT_ID": Accepts(_STR, none=True),
    "API_CLIENT_SECRET": Accepts(_STR, none=True, secret=True),
    "REDIRECT_URI": Accepts(_STR, none=True),
    "REDIRECT_URL_NAME": Accepts(_STR),
    "SCOPE": Accepts(_SEQUENCE),
    "MODE": Accepts(_STR),
    "UNIT_SYSTEM": Accepts(_STR),
    "CONNECT_ORIGIN": Accepts(_STR, secret=True),  # an origin may carry credentials (E011 refuses them)
    "AUTH_ORIGIN": Accepts(_STR, secret=True),
    "API_ORIGIN": Accepts(_STR, secret=True),
    "MANAGEMENT_API_ORIGIN": Accepts(_STR, secret=True),
    "IAM_ORIGIN": Accepts(_STR, secret=True),
    "VEHICLE_API_V3_ORIGIN": Accepts(_STR, secret=True),
    "MANAGEMENT_API_V3_ORIGIN": Accepts(_STR, secret=True),
    "APP_TOKEN_RENEW_BEFORE": Accepts((timedelta,), minimum=timedelta(0)),
    "ENCRYPTION_KEYS": Accepts((*_SEQUENCE, str), secret=True),
    "ACCESS_TOKEN_REFRESH_MARGIN": Accepts((timedelta,), minimum=timedelta(0)),
    "REFRESH_TOKEN_ROTATION_WINDOW": Accepts((timedelta,), minimum=timedelta(0)),
    "ROTATION_JITTER": Accepts((timedelta,), minimum=timedelta(0)),
    "ROTATION_REQUEUE_AFTER": Accepts((timedelta,), minimum=timedelta(0)),
    "EXPIRY_ALERT_WINDOW": Accepts((timedelta,), minimum=timedelta(0)),
    "TASK_MAX_RETRIES": Accepts((int,), minimum=0),
    "RETRY_BACKOFF": Accepts(_SECONDS, minimum=0),
    "ROTATION_CHECK_INTERVAL": Accepts((timedelta,), minimum=timedelta(milliseconds=1)),
    "VEHICLE_REFRESH_INTERVAL": Accepts((timedelta,), none=True, minimum=timedelta(milliseconds=1)),
    "MONTHLY_REQUESTS_PER_VEHICLE": Accepts((int,), none=True, minimum=1),
    "USER_RESERVED_SHARE": Accepts(_SECONDS, minimum=0),
    "BUDGET_WARNING_THRESHOLD": Accepts(_SECONDS, minimum=0),
    "APP_RATE_LIMIT": Accepts((dict,), none=True),
    "POLL_DISPATCH_INTERVAL": Accepts((timedelta,), none=True, minimum=timedelta(seconds=1)),
    "POLL_INTERVALS": Accepts((dict,)),
    "POLL_INTERVAL_MAX": Accepts((timedelta,), minimum=timedelta(minutes=1)),
    "WEBHOOK_FRESH_FOR": Accepts((timedelta,), minimum=timedelta(0)),
    "BULK_CHUNK_SIZE": Accepts((int,), minimum=1),
    "BULK_MAX_IN_FLIGHT": Accepts((int,), minimum=1),
    "FANOUT_CHUNK_SIZE": Accepts((int,), minimum=1),
    "ROTATION_CHUNK_SIZE": Accepts((int,), minimum=1),
    "ROTATION_MAX_IN_FLIGHT": Accepts((int,), minimum=1),
    "STATE_MAX_AGE": Accepts(_SECONDS, minimum=1),
    "CONNECT_SUCCESS_URL": Accepts(_STR),
    "TIMEOUTS": Accepts((dict,)),
    "REQUEST_TIMEOUT": Accepts(_SECONDS, none=True, minimum=0.001),
    "MANAGEMENT_TOKEN": Accepts((str, *_SEQUENCE), none=True, secret=True),
    "WEBHOOK_ID": Accepts(_STR, none=True),
    "WEBHOOK_URL_ID": Accepts(_STR, none=True, secret=True),
    "WEBHOOK_ENDPOINTS": Accepts((dict,), secret=True),
    "WEBHOOK_MAX_BODY_BYTES": Accepts((int,), minimum=1),
    "MAX_CONNECT_STATES_PER_USER": Accepts((int,), none=True, minimum=1),
    "CONNECT_STATE_CLEANUP_INTERVAL": Accepts((timedelta,), none=True, minimum=timedelta(milliseconds=1)),
    "THROTTLE_CACHE": Accepts(_STR),
    "WEBHOOK_SWEEP_INTERVAL": Accepts((timedelta,), none=True, minimum=timedelta(milliseconds=1)),
    "WEBHOOK_PENDING_REQUEUE_AFTER": Accepts((timedelta,), minimum=timedelta(0)),
    "WEBHOOK_DISPATCH_INTERVAL": Accepts((timedelta,), none=True, minimum=timedelta(milliseconds=1)),
    "WEBHOOK_MAX_ATTEMPTS": Accepts((int,), minimum=1),
    "COMMAND_SWEEP_INTERVAL": Accepts((timedelta,), none=True, minimum=timedelta(milliseconds=1)),
    "COMMAND_ABANDONED_AFTER": Accepts((timedelta,), minimum=timedelta(seconds=1)),
    "DATA_AGE_FUTURE_TOLERANCE": Accepts((timedelta,), minimum=timedelta(0)),
    "NOT_CAPABLE_RECHECK_AFTER": Accepts((timedelta,), none=True, minimum=timedelta(0)),
    "REFRESH_ON_CONNECT": Accepts((bool,)),
    "WEBHOOK_VEHICLE_STATE_RETRY_AFTER": Accepts((timedelta,), none=True, minimum=timedelta(seconds=1)),
    "TOKEN_EXCHANGE_RETRY_WINDOW": Accepts((timedelta,), minimum=timedelta(0)),
    "EXCHANGE_RECOVERY_INTERVAL": Accepts((timedelta,), minimum=timedelta(milliseconds=1)),
}


# Settings that fall back to an environment variable when the SMARTCAR dict leaves them out. The names match
# the official SDK's where it has one; those the client reads too are named once, in client/config.py.
ENV_FALLBACKS: dict[str, str] = {
    "CLIENT_ID": client_config.CLIENT_ID_ENV,
    "CLIENT_SECRET": client_config.CLIENT_SECRET_ENV,
    "REDIRECT_URI": client_config.REDIRECT_URI_ENV,
    "MODE": "SMARTCAR_MODE",
    "CONNECT_ORIGIN": client_config.CONNECT_ORIGIN_ENV,
    "AUTH_ORIGIN": client_config.AUTH_ORIGIN_ENV,
    "API_ORIGIN": client_config.API_ORIGIN_ENV,
    "MANAGEMENT_API_ORIGIN": client_config.MANAGEMENT_ORIGIN_ENV,
    "IAM_ORIGIN": client_config.IAM_ORIGIN_ENV,
    "VEHICLE_API_V3_ORIGIN": client_config.VEHICLE_API_V3_ORIGIN_ENVS[0],
    "MANAGEMENT_API_V3_ORIGIN": client_config.MANAGEMENT_API_V3_ORIGIN_ENV,
    "API_VERSION": "SMARTCAR_API_VERSION",
    "API_CLIENT_ID": "SMARTCAR_API_CLIENT_ID",
    "API_CLIENT_SECRET": "SMARTCAR_API_CLIENT_SECRET",
    "ENCRYPTION_KEYS": "SMARTCAR_ENCRYPTION_KEYS",
    "MANAGEMENT_TOKEN": "SMARTCAR_MANAGEMENT_TOKEN",
    "WEBHOOK_ID": "SMARTCAR_WEBHOOK_ID",
    "WEBHOOK_URL_ID": "SMARTCAR_WEBHOOK_URL_ID",
}

# Environment values are strings; these settings are lists given comma- or space-separated.
_LIST_SETTINGS = {"ENCRYPTION_KEYS", "SCOPE", "MANAGEMENT_TOKEN"}


class SmartcarSettings:
    """Attribute access to the app's settings, resolved and type-checked on every access."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown django-smartcar setting: {name!r}")
        value, source = resolve(name)
        problem = type_problem(name, value, source)
        if problem:
            raise ImproperlyConfigured(problem)
        return value

    def __dir__(self) -> list[str]:
        return sorted(DEFAULTS)


def user_settings() -> dict[str, Any]:
    """The project's ``SMARTCAR`` dict (empty when unset); not a dict at all is a configuration error."""
    value = getattr(settings, "SMARTCAR", None)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f"settings.SMARTCAR must be a dict, got {type(value).__name__}.")
    return value


def resolve(name: str) -> tuple[Any, str]:
    """A setting's value, unchecked, and where it came from (for messages): the dict, the environment or the
    default. Environment values are strings, converted to the type ``SCHEMA`` expects where they can be."""
    configured = user_settings()
    if name in configured:
        return configured[name], f'SMARTCAR["{name}"]'
    env_name = ENV_FALLBACKS.get(name)
    if env_name and os.environ.get(env_name):
        value = os.environ[env_name]
        if name in _LIST_SETTINGS:
            return [part for part in value.replace(",", " ").split() if part], env_name
        return _from_environment(name, value), env_name
    return DEFAULTS[name], f"the default of {name}"


def _from_environment(name: str, value: str) -> Any:
    accepts = SCHEMA.get(name)
    if accepts is None or str in accepts.types:
        return value
    for kind in accepts.types:
        try:
            if kind is timedelta:
                return timedelta(seconds=float(value))
            if kind in (int, float):
                return kind(value)
        except (ValueError, OverflowError):
            continue
    return value  # left a string: the type check names the variable


def type_problem(name: str, value: Any, source: str | None = None) -> str | None:
    """Why ``value`` is not acceptable for setting ``name`` (a message with the fix), or None when it is."""
    accepts = SCHEMA.get(name)
    source = source or f'SMARTCAR["{name}"]'
    if accepts is None or (value is None and accepts.none):
        return None
    shown = "" if accepts.secret else f" {value!r}"
    is_bool = isinstance(value, bool) and bool not in accepts.types
    # A variable, not an isinstance() in the condition: the types are known at run time only, and mypy would
    # narrow value to ``object``, which no minimum compares with.
    fits = isinstance(value, accepts.types)
    if is_bool or not fits:
        return f"{source} must be {accepts.describe()}, got{shown} ({type(value).__name__})."
    if accepts.minimum is not None and value < accepts.minimum:
        return f"{source} must be {accepts.describe()}, got{shown}."
    content_check = _CONTENT_CHECKS.get(name)
    return content_check(value, source) if content_check else None


def _timeouts_problem(value: dict[Any, Any], source: str) -> str | None:
    classes = ", ".join(f'"{name}"' for name in CALL_CLASSES)
    for key, seconds in value.items():
        if key not in CALL_CLASSES:
            return f"{source} has an unknown call class {key!r}: use {classes}."
        parts = seconds if isinstance(seconds, list | tuple) else (seconds,)
        if not 1 <= len(parts) <= 2 or any(
            isinstance(part, bool) or not isinstance(part, int | float) or part <= 0 for part in parts
        ):
            return (
                f'{source}["{key}"] must be a positive number of seconds or a (connect, read) pair, '
                f"got {seconds!r}."
            )
    return None


def _share_problem(value: float, source: str) -> str | None:
    return None if 0 <= value <= 1 else f"{source} must be a share between 0 and 1, got {value!r}."


def _rate_limit_problem(value: dict[Any, Any], source: str) -> str | None:
    for key in ("capacity", "refill_per_minute"):
        number = value.get(key)
        if isinstance(number, bool) or not isinstance(number, int | float) or number <= 0:
            return (
                f'{source} must be {{"capacity": requests, "refill_per_minute": requests}} with positive numbers '
                f"(Smartcar's default: 120 and 2), got {value!r}."
            )
    unknown = sorted(set(value) - {"capacity", "refill_per_minute"}, key=str)
    return f"{source} has unknown keys {unknown!r}." if unknown else None


POLL_STATES = ("charging", "driving", "parked", "asleep", "unreachable", "failed")


def _poll_intervals_problem(value: dict[Any, Any], source: str) -> str | None:
    for key, interval in value.items():
        if key not in POLL_STATES:
            return f"{source} has an unknown state {key!r}: use {', '.join(POLL_STATES)}."
        if not isinstance(interval, timedelta) or interval < timedelta(minutes=1):
            return f'{source}["{key}"] must be a datetime.timedelta of at least a minute, got {interval!r}.'
    return None


# Settings whose content is checked beyond their type: (value, source) -> the problem, or None.
_CONTENT_CHECKS: dict[str, Any] = {
    "TIMEOUTS": _timeouts_problem,
    "USER_RESERVED_SHARE": _share_problem,
    "BUDGET_WARNING_THRESHOLD": _share_problem,
    "APP_RATE_LIMIT": _rate_limit_problem,
    "POLL_INTERVALS": _poll_intervals_problem,
}


def unknown_setting_names() -> list[tuple[str, str | None]]:
    """Keys of the ``SMARTCAR`` dict this app does not know (each silently ignored), with the closest known name."""
    return [
        (key, next(iter(difflib.get_close_matches(str(key), DEFAULTS, n=1, cutoff=0.6)), None))
        for key in user_settings()
        if key not in DEFAULTS
    ]


smartcar_settings = SmartcarSettings()


def management_tokens() -> list[str]:
    """``MANAGEMENT_TOKEN`` as a list, newest first: one string, or several while the token is rotated."""
    value = smartcar_settings.MANAGEMENT_TOKEN
    if not value:
        return []
    return [value] if isinstance(value, str) else [token for token in value if token]
