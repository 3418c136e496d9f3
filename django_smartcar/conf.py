"""The app's settings: one ``SMARTCAR = {...}`` dict, environment fallbacks, defaults.

Values are read at every access (never cached, never at import time), so ``override_settings`` and settings
changed by tests or by a deployment's environment are always honoured::

    from django_smartcar.conf import smartcar_settings

    smartcar_settings.CLIENT_ID
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from django.conf import settings

from .client.config import ALL_SCOPES, CONNECT_MODES, UNIT_SYSTEMS

# Re-exported for the checks; the client is where Smartcar's vocabulary lives.
MODES = CONNECT_MODES
__all__ = ["ALL_SCOPES", "DEFAULTS", "MODES", "UNIT_SYSTEMS", "smartcar_settings"]


DEFAULTS: dict[str, Any] = {
    # The Smartcar application's credentials (Smartcar dashboard).
    "CLIENT_ID": None,
    "CLIENT_SECRET": None,
    # Either a full redirect URI registered with Smartcar, or None to build it from REDIRECT_URL_NAME and the
    # incoming request's host.
    "REDIRECT_URI": None,
    "REDIRECT_URL_NAME": "django_smartcar:callback",
    # What Connect asks the user to grant.
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
    "CONNECT_ORIGIN": "https://connect.smartcar.com",
    "AUTH_ORIGIN": "https://auth.smartcar.com/oauth/token",
    "API_ORIGIN": "https://api.smartcar.com",
    "MANAGEMENT_API_ORIGIN": "https://management.smartcar.com",
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
    # Beat: how often expiring tokens are looked for, and how often connected vehicles' data is refreshed
    # (None: never, e.g. when webhooks bring the data).
    "ROTATION_CHECK_INTERVAL": timedelta(hours=1),
    "VEHICLE_REFRESH_INTERVAL": timedelta(hours=1),
    # Ids handled per database round trip when the beat tasks fan out.
    "FANOUT_CHUNK_SIZE": 500,
    # How long a Connect ``state`` stays valid (seconds).
    "STATE_MAX_AGE": 600,
    # Where the user lands after connecting or disconnecting, when no safe ``next`` was given.
    "CONNECT_SUCCESS_URL": "/",
    # HTTP time-out for each Smartcar request, in seconds.
    "REQUEST_TIMEOUT": 10.0,
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
}

# Settings that fall back to an environment variable when the SMARTCAR dict leaves them out. The names match
# the official SDK's where it has one.
ENV_FALLBACKS: dict[str, str] = {
    "CLIENT_ID": "SMARTCAR_CLIENT_ID",
    "CLIENT_SECRET": "SMARTCAR_CLIENT_SECRET",
    "REDIRECT_URI": "SMARTCAR_REDIRECT_URI",
    "MODE": "SMARTCAR_MODE",
    "CONNECT_ORIGIN": "SMARTCAR_CONNECT_ORIGIN",
    "AUTH_ORIGIN": "SMARTCAR_AUTH_ORIGIN",
    "API_ORIGIN": "SMARTCAR_API_ORIGIN",
    "MANAGEMENT_API_ORIGIN": "SMARTCAR_MANAGEMENT_API_ORIGIN",
    "ENCRYPTION_KEYS": "SMARTCAR_ENCRYPTION_KEYS",
    "MANAGEMENT_TOKEN": "SMARTCAR_MANAGEMENT_TOKEN",
    "WEBHOOK_ID": "SMARTCAR_WEBHOOK_ID",
    "WEBHOOK_URL_ID": "SMARTCAR_WEBHOOK_URL_ID",
}

# Environment values are strings; these settings are lists given comma- or space-separated.
_LIST_SETTINGS = {"ENCRYPTION_KEYS", "SCOPE", "MANAGEMENT_TOKEN"}


class SmartcarSettings:
    """Attribute access to the app's settings, resolved on every access."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown django-smartcar setting: {name!r}")
        user_settings = getattr(settings, "SMARTCAR", None) or {}
        if name in user_settings:
            return user_settings[name]
        env_name = ENV_FALLBACKS.get(name)
        if env_name and os.environ.get(env_name):
            value = os.environ[env_name]
            if name in _LIST_SETTINGS:
                return [part for part in value.replace(",", " ").split() if part]
            return value
        return DEFAULTS[name]

    def __dir__(self) -> list[str]:
        return sorted(DEFAULTS)


smartcar_settings = SmartcarSettings()


def management_tokens() -> list[str]:
    """``MANAGEMENT_TOKEN`` as a list, newest first: one string, or several while the token is rotated."""
    value = smartcar_settings.MANAGEMENT_TOKEN
    if not value:
        return []
    return [value] if isinstance(value, str) else [token for token in value if token]
