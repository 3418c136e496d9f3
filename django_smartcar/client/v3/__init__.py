"""Smartcar API V3 (April 2026): one application token, user-scoped signals and commands, webhook subscriptions.

``from django_smartcar.client import v3``; v2 lives beside it in ``client.v2``. Both share the transport
(time-outs, retries), the exception classes and the redaction of secrets.
"""

from .calls import TokenSource, iterate_pages
from .management import ManagementApi
from .results import (
    ERROR,
    SIGNAL_STATUSES,
    SUCCESS,
    UNAVAILABLE,
    UNIT_ALIASES,
    CommandExecution,
    Connection,
    Page,
    Signal,
    Signals,
    Subscription,
    SubscriptionRequest,
    VehicleInfo,
    Webhook,
    normalize_unit,
)
from .tokens import (
    DEFAULT_RENEW_BEFORE,
    ApplicationToken,
    CachedToken,
    MemoryTokenStore,
    TokenStore,
    request_application_token,
)
from .vehicles import (
    COMMAND_PATHS,
    LOCK,
    SET_CHARGE_LIMIT,
    SET_DESTINATION,
    START_CHARGE,
    STOP_CHARGE,
    UNLOCK,
    USER_ID_HEADER,
    UserVehicle,
    VehicleApi,
    get_vehicle,
)

__all__ = [
    "COMMAND_PATHS",
    "DEFAULT_RENEW_BEFORE",
    "ERROR",
    "LOCK",
    "SET_CHARGE_LIMIT",
    "SET_DESTINATION",
    "SIGNAL_STATUSES",
    "START_CHARGE",
    "STOP_CHARGE",
    "SUCCESS",
    "UNAVAILABLE",
    "UNIT_ALIASES",
    "UNLOCK",
    "USER_ID_HEADER",
    "ApplicationToken",
    "CachedToken",
    "CommandExecution",
    "Connection",
    "ManagementApi",
    "MemoryTokenStore",
    "Page",
    "Signal",
    "Signals",
    "Subscription",
    "SubscriptionRequest",
    "TokenSource",
    "TokenStore",
    "UserVehicle",
    "VehicleApi",
    "VehicleInfo",
    "Webhook",
    "get_vehicle",
    "iterate_pages",
    "normalize_unit",
    "request_application_token",
]
