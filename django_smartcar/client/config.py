"""Where Smartcar lives and the fixed vocabulary of its API (scopes, modes, unit systems)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

# The permissions of the v2 endpoints, still importable from here; Smartcar's whole list is in permissions.py.
from .permissions import ALL_SCOPES as ALL_SCOPES
from .redaction import redact_url, without_userinfo

API_VERSION = "2.0"

DEFAULT_CONNECT_ORIGIN = "https://connect.smartcar.com"
DEFAULT_AUTH_URL = "https://auth.smartcar.com/oauth/token"
DEFAULT_API_ORIGIN = "https://api.smartcar.com"
DEFAULT_MANAGEMENT_ORIGIN = "https://management.smartcar.com"
# API V3 (April 2026): the application token comes from IAM; the Vehicle and Management APIs have hosts of
# their own. Each origin is a host: the client adds ``/oauth2/token`` and ``/v3/...``.
V3_API_VERSION = "3"
DEFAULT_IAM_ORIGIN = "https://iam.smartcar.com"
DEFAULT_VEHICLE_API_V3_ORIGIN = "https://vehicle.api.smartcar.com"
DEFAULT_MANAGEMENT_API_V3_ORIGIN = "https://management.api.smartcar.com"

# The same variables the official SDK reads, so one environment serves both.
CONNECT_ORIGIN_ENV = "SMARTCAR_CONNECT_ORIGIN"
AUTH_ORIGIN_ENV = "SMARTCAR_AUTH_ORIGIN"
API_ORIGIN_ENV = "SMARTCAR_API_ORIGIN"
MANAGEMENT_ORIGIN_ENV = "SMARTCAR_MANAGEMENT_API_ORIGIN"
# The Python SDK reads SMARTCAR_VEHICLE_API_V3_ORIGIN, the Node SDK SMARTCAR_API_V3_ORIGIN: either works here.
VEHICLE_API_V3_ORIGIN_ENVS = ("SMARTCAR_VEHICLE_API_V3_ORIGIN", "SMARTCAR_API_V3_ORIGIN")
# No official SDK names these two: ours.
IAM_ORIGIN_ENV = "SMARTCAR_IAM_ORIGIN"
MANAGEMENT_API_V3_ORIGIN_ENV = "SMARTCAR_MANAGEMENT_API_V3_ORIGIN"

CLIENT_ID_ENV = "SMARTCAR_CLIENT_ID"
CLIENT_SECRET_ENV = "SMARTCAR_CLIENT_SECRET"
REDIRECT_URI_ENV = "SMARTCAR_REDIRECT_URI"

CONNECT_MODES: tuple[str, ...] = ("live", "test", "simulated")
UNIT_SYSTEMS: tuple[str, ...] = ("metric", "imperial")

FlagValue = str | bool | int | float
Flags = Mapping[str, FlagValue] | Iterable[str]


def format_flags(flags: Flags) -> str:
    """``{"a": True, "b": "x"}`` -> ``"a:true b:x"``; an iterable of ready-made flags is space-joined."""
    if isinstance(flags, Mapping):
        parts = []
        for name, value in flags.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            parts.append(f"{name}:{text}")
        return " ".join(parts)
    if isinstance(flags, str):
        return flags
    return " ".join(str(flag) for flag in flags)


# Smartcar documents 60 days; the token endpoint does not say, so this is used unless it ever does.
REFRESH_TOKEN_LIFETIME = timedelta(days=60)


@dataclass(frozen=True, repr=False)
class Origins:
    """The Smartcar hosts a client talks to. ``auth`` is the full v2 token URL, not just a host; ``iam``,
    ``vehicle_v3`` and ``management_v3`` are API V3's hosts."""

    connect: str = DEFAULT_CONNECT_ORIGIN
    auth: str = DEFAULT_AUTH_URL
    api: str = DEFAULT_API_ORIGIN
    management: str = DEFAULT_MANAGEMENT_ORIGIN
    iam: str = DEFAULT_IAM_ORIGIN
    vehicle_v3: str = DEFAULT_VEHICLE_API_V3_ORIGIN
    management_v3: str = DEFAULT_MANAGEMENT_API_V3_ORIGIN

    def __post_init__(self) -> None:
        for name in ORIGIN_NAMES:
            value = getattr(self, name)
            if not isinstance(value, str) or not value.startswith(("http://", "https://")):
                shown = redact_url(value) if isinstance(value, str) else type(value).__name__
                raise ValueError(f"Origins.{name} must be an http(s) URL, got {shown!r}")
            # Frozen dataclass: normalising in place needs object.__setattr__.
            object.__setattr__(self, name, value.rstrip("/"))

    def __repr__(self) -> str:
        # Spelled out so that credentials in a configured origin never reach a traceback or a log line.
        fields = ", ".join(f"{name}={redact_url(getattr(self, name))!r}" for name in ORIGIN_NAMES)
        return f"Origins({fields})"

    @classmethod
    def from_env(cls) -> Origins:
        """Read the origin variables now (not at import), falling back to Smartcar's real hosts."""
        return cls(
            connect=os.environ.get(CONNECT_ORIGIN_ENV) or DEFAULT_CONNECT_ORIGIN,
            auth=os.environ.get(AUTH_ORIGIN_ENV) or DEFAULT_AUTH_URL,
            api=os.environ.get(API_ORIGIN_ENV) or DEFAULT_API_ORIGIN,
            management=os.environ.get(MANAGEMENT_ORIGIN_ENV) or DEFAULT_MANAGEMENT_ORIGIN,
            iam=os.environ.get(IAM_ORIGIN_ENV) or DEFAULT_IAM_ORIGIN,
            vehicle_v3=next(
                (os.environ[name] for name in VEHICLE_API_V3_ORIGIN_ENVS if os.environ.get(name)),
                DEFAULT_VEHICLE_API_V3_ORIGIN,
            ),
            management_v3=os.environ.get(MANAGEMENT_API_V3_ORIGIN_ENV) or DEFAULT_MANAGEMENT_API_V3_ORIGIN,
        )

    @property
    def authorize_url(self) -> str:
        # The user's browser goes there: the credentials of a configured origin must not go with it.
        return f"{without_userinfo(self.connect)}/oauth/authorize"

    @property
    def reauthenticate_url(self) -> str:
        return f"{without_userinfo(self.connect)}/oauth/reauthenticate"

    def api_url(self, path: str) -> str:
        """URL of a Vehicle API path such as ``/vehicles`` (the version prefix is added here)."""
        return f"{self.api}/v{API_VERSION}/{path.lstrip('/')}"

    def management_url(self, path: str) -> str:
        return f"{self.management}/v{API_VERSION}/management/{path.lstrip('/')}"

    @property
    def iam_token_url(self) -> str:
        """API V3's client-credentials token endpoint."""
        return f"{self.iam}/oauth2/token"

    def vehicle_v3_url(self, path: str) -> str:
        """URL of a Vehicle API V3 path such as ``/connections`` (``/v3`` is added here)."""
        return f"{self.vehicle_v3}/v{V3_API_VERSION}/{path.lstrip('/')}"

    def management_v3_url(self, path: str) -> str:
        """URL of a Management API V3 path such as ``/subscriptions`` (``/v3`` is added here)."""
        return f"{self.management_v3}/v{V3_API_VERSION}/{path.lstrip('/')}"


ORIGIN_NAMES = ("connect", "auth", "api", "management", "iam", "vehicle_v3", "management_v3")
