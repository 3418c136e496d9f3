"""Every way a Smartcar call can fail, as one exception hierarchy.

Classes follow both the v2 error ``type`` and the status table of the older SDK docs, so code written
against either (``except RateLimitingException``, ``if exc.type == "RATE_LIMIT"``) keeps working.
Messages only ever carry what Smartcar said, never a token or a secret.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from .redaction import redact_secrets, redact_text

# 500 is deliberately absent: Smartcar's SERVER errors are rarely transient, and every retry is a billed
# request against the vehicle's monthly quota. Callers who know better can retry on `exc.status_code`.
RETRYABLE_STATUS_CODES = frozenset({429, 502, 503, 504})

# Longest slice of a non-JSON error body kept for diagnosis (proxies answer with whole HTML pages).
BODY_EXCERPT_LENGTH = 200


class SmartcarException(Exception):
    """Base of every error this client raises; carries the fields of Smartcar's v2 error body."""

    def __init__(
        self,
        description: str | None = None,
        *,
        status_code: int | None = None,
        type: str | None = None,
        code: str | None = None,
        doc_url: str | None = None,
        resolution: dict[str, str | None] | None = None,
        request_id: str | None = None,
        retry_after: int | None = None,
        detail: Any = None,
        suggested_user_message: str | None = None,
        errors: Iterable[Mapping[str, Any]] | None = None,
    ) -> None:
        self.status_code = status_code
        self.type = type
        self.code = code
        # Whatever names a URL (ours, or Smartcar's text) never carries the credentials in it.
        self.description = redact_text(description) if description else description
        self.doc_url = doc_url
        self.resolution = resolution
        self.request_id = request_id
        self.retry_after = retry_after
        self.detail = detail
        self.suggested_user_message = suggested_user_message
        # API V3 answers a JSON:API document that may hold several errors: the first one made this exception
        # (type, code, class); all of them are kept here, as sent.
        self.errors: list[dict[str, Any]] = [dict(error) for error in errors or ()]
        super().__init__(self._message())

    def _message(self) -> str:
        label = ":".join(part for part in (self.type, self.code) if part)
        description = self.description or (f"HTTP {self.status_code}" if self.status_code else "error")
        message = f"{label} - {description}" if label else description
        if len(self.errors) > 1:
            others = len(self.errors) - 1
            message += f" (and {others} more error{'s' if others > 1 else ''})"
        return message

    @property
    def retryable(self) -> bool:
        """Whether repeating the same safe request later may succeed (rate limits, gateway trouble)."""
        return self.status_code in RETRYABLE_STATUS_CODES

    def hide(self, secrets: Iterable[str]) -> SmartcarException:
        """Mask each of ``secrets`` (what the failed request sent) wherever Smartcar's text quotes it."""
        secrets = list(secrets)
        if self.description:
            self.description = redact_secrets(self.description, secrets)
        if isinstance(self.detail, str):
            self.detail = redact_secrets(self.detail, secrets)
        self.errors = [
            {
                key: redact_secrets(value, secrets) if isinstance(value, str) else value
                for key, value in error.items()
            }
            for error in self.errors
        ]
        self.args = (self._message(),)
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code!r}, message={str(self)!r})"


class ValidationException(SmartcarException):
    """400 VALIDATION: the request was malformed; also what Smartcar answers for a vehicle id that is unknown
    or not reachable with the token (code ``None``), where one might expect a 404."""


class AuthenticationException(SmartcarException):
    """401 AUTHENTICATION: the token is invalid, expired or revoked."""


class PermissionException(SmartcarException):
    """403 PERMISSION: the call needs a scope the user did not grant."""


class ResourceNotFoundException(SmartcarException):
    """404 RESOURCE_NOT_FOUND: a path (code ``PATH``) or API version (``VERSION``) Smartcar does not have, i.e.
    a mistake in the calling code, never something the vehicle's owner can fix."""


class StateException(SmartcarException):
    """409: the vehicle or the owner's account is not in a state that allows the request."""


class VehicleStateException(StateException):
    """409 VEHICLE_STATE: e.g. asleep, unreachable, doors open."""


class ConnectedServicesAccountException(StateException):
    """400 CONNECTED_SERVICES_ACCOUNT: a problem with the owner's account at the car maker (older
    documentation said 409, hence a ``StateException``)."""


class CompatibilityException(SmartcarException):
    """501 COMPATIBILITY (older documentation also said 409): the vehicle, make or Smartcar cannot do this."""


class VehicleNotCapableException(CompatibilityException):
    """501: the vehicle itself lacks the capability."""


class SmartcarNotCapableException(CompatibilityException):
    """501: Smartcar does not support this capability for the vehicle yet."""


class RateLimitingException(SmartcarException):
    """429 RATE_LIMIT: slow down; ``retry_after`` says for how many seconds."""


class BillingException(SmartcarException):
    """430 BILLING: the application's plan or monthly limit does not allow the request."""


# Name used by the 4.x SDK's status table for every 430.
MonthlyLimitExceeded = BillingException


class ServerException(SmartcarException):
    """500 SERVER (and any other unexpected 5xx)."""


class UpstreamException(SmartcarException):
    """502 UPSTREAM: the car maker's service failed."""


class GatewayTimeoutException(SmartcarException):
    """504: Smartcar or the car maker did not answer in time."""


class OAuthException(SmartcarException):
    """An OAuth error from the token endpoint (``{"error": ..., "error_description": ...}``)."""


class InvalidGrantException(OAuthException, AuthenticationException):
    """invalid_grant: the code or refresh token is expired, used or revoked; the user must reconnect."""


class InvalidResponseException(SmartcarException):
    """A successful status with a body that is not the JSON this client expects."""


class SmartcarConnectionError(SmartcarException):
    """Smartcar could not be reached (DNS, refused connection, reset). Also the base of time-outs.

    ``request_sent`` is False only when the request provably never left this machine (the connection was
    refused or never set up): nothing can have run or been billed, so even a command may be sent again. When
    True (the default: a reset or a time-out after sending) Smartcar may have run it.
    """

    def __init__(self, description: str | None = None, *, request_sent: bool = True, **fields: Any) -> None:
        self.request_sent = request_sent
        super().__init__(description, **fields)

    @property
    def retryable(self) -> bool:
        return True


class SmartcarTimeout(SmartcarConnectionError):
    """Smartcar did not answer within the configured time-out (or, with ``request_sent`` False, the
    connection could not be set up in time)."""


TYPE_EXCEPTIONS: dict[str, type[SmartcarException]] = {
    "VALIDATION": ValidationException,
    "AUTHENTICATION": AuthenticationException,
    "PERMISSION": PermissionException,
    "RESOURCE_NOT_FOUND": ResourceNotFoundException,
    "VEHICLE_STATE": VehicleStateException,
    "CONNECTED_SERVICES_ACCOUNT": ConnectedServicesAccountException,
    "COMPATIBILITY": CompatibilityException,
    "RATE_LIMIT": RateLimitingException,
    "BILLING": BillingException,
    "SERVER": ServerException,
    "UPSTREAM": UpstreamException,
}

COMPATIBILITY_CODE_EXCEPTIONS: dict[str, type[SmartcarException]] = {
    "VEHICLE_NOT_CAPABLE": VehicleNotCapableException,
    "SMARTCAR_NOT_CAPABLE": SmartcarNotCapableException,
}

STATUS_EXCEPTIONS: dict[int, type[SmartcarException]] = {
    400: ValidationException,
    401: AuthenticationException,
    403: PermissionException,
    404: ResourceNotFoundException,
    409: StateException,
    429: RateLimitingException,
    430: BillingException,
    500: ServerException,
    501: VehicleNotCapableException,
    502: UpstreamException,
    504: GatewayTimeoutException,
}


def exception_class_for(
    status_code: int | None, error_type: str | None, code: str | None
) -> type[SmartcarException]:
    """The most specific class for a v2 type (and code), falling back to the HTTP status."""
    if error_type == "COMPATIBILITY" and code in COMPATIBILITY_CODE_EXCEPTIONS:
        return COMPATIBILITY_CODE_EXCEPTIONS[code]
    if error_type in TYPE_EXCEPTIONS:
        return TYPE_EXCEPTIONS[error_type]
    if status_code in STATUS_EXCEPTIONS:
        return STATUS_EXCEPTIONS[status_code]
    if status_code is not None and status_code >= 500:
        return ServerException
    return SmartcarException


def parse_retry_after(value: str | None, now: datetime | None = None) -> int | None:
    """Seconds to wait from a Retry-After header, which may be a number of seconds or an HTTP date."""
    if value is None or not str(value).strip():
        return None
    value = str(value).strip()
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    return max(0, int(seconds + 0.999))


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _resolution(value: object) -> dict[str, str | None] | None:
    if isinstance(value, str) and value:
        return {"type": value, "url": None}
    if isinstance(value, Mapping):
        return {"type": _optional_str(value.get("type")), "url": _optional_str(value.get("url"))}
    return None


def exception_from_body(status_code: int, body: object, headers: Mapping[str, str]) -> SmartcarException:
    """Build the exception for an error whose body is already decoded (a response or a batch item).

    ``headers`` must look keys up case-insensitively (requests' headers do; see ``exception_from_response``).
    """
    request_id = _optional_str(headers.get("sc-request-id"))
    retry_after = parse_retry_after(headers.get("retry-after"))
    if not isinstance(body, Mapping):
        cls = exception_class_for(status_code, None, None)
        return cls(
            f"HTTP {status_code} with an unexpected body", status_code=status_code, request_id=request_id
        )

    errors = body.get("errors")
    if isinstance(errors, list) and not body.get("type"):
        return _exception_from_jsonapi(status_code, errors, headers, request_id, retry_after)

    error = body.get("error")
    if isinstance(error, str) and not body.get("type"):
        # OAuth errors (token endpoint) and v1 errors both use "error"; v1 adds "message" and "code".
        description = _optional_str(body.get("error_description")) or _optional_str(body.get("message"))
        if "message" in body:
            cls = exception_class_for(status_code, None, None)
        else:
            cls = InvalidGrantException if error == "invalid_grant" else OAuthException
        return cls(
            description,
            status_code=status_code,
            type=error,
            code=_optional_str(body.get("code")),
            request_id=_optional_str(body.get("requestId")) or request_id,
            retry_after=retry_after,
        )

    error_type = _optional_str(body.get("type"))
    code = _optional_str(body.get("code"))
    cls = exception_class_for(status_code, error_type, code)
    return cls(
        _optional_str(body.get("description")) or _optional_str(body.get("message")),
        status_code=status_code,
        type=error_type,
        code=code,
        doc_url=_optional_str(body.get("docURL")),
        resolution=_resolution(body.get("resolution")),
        request_id=_optional_str(body.get("requestId")) or request_id,
        retry_after=retry_after,
        detail=body.get("detail"),
        suggested_user_message=_optional_str(body.get("suggestedUserMessage")),
    )


def _status_of(value: object) -> int | None:
    """A JSON:API error's ``status``: a string ("400") as documented, a number accepted too."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _exception_from_jsonapi(
    status_code: int,
    errors: list[Any],
    headers: Mapping[str, str],
    request_id: str | None,
    retry_after: int | None,
) -> SmartcarException:
    """API V3's ``{"errors": [{"status": "400", "type", "code", "title", "detail", "links": {"about"}}, ...]}``:
    the first error decides the class, exactly as a v2 body with the same type and code would."""
    entries = [error for error in errors if isinstance(error, Mapping)]
    if not entries:
        cls = exception_class_for(status_code, None, None)
        return cls(
            f"HTTP {status_code} with an empty error list", status_code=status_code, request_id=request_id
        )
    first = entries[0]
    error_type = _optional_str(first.get("type"))
    code = _optional_str(first.get("code"))
    # The HTTP status wins; an error's own status only helps when the response's is not an error's.
    status = status_code if status_code >= 400 else (_status_of(first.get("status")) or status_code)
    links = first.get("links")
    meta = first.get("meta")
    detail = first.get("detail")
    cls = exception_class_for(status, error_type, code)
    return cls(
        _optional_str(detail) or _optional_str(first.get("description")) or _optional_str(first.get("title")),
        status_code=status,
        type=error_type,
        code=code,
        doc_url=(_optional_str(links.get("about")) if isinstance(links, Mapping) else None)
        or _optional_str(first.get("docURL")),
        resolution=_resolution(first.get("resolution")),
        request_id=(_optional_str(meta.get("requestId")) if isinstance(meta, Mapping) else None)
        or request_id,
        retry_after=retry_after,
        detail=detail,
        suggested_user_message=_optional_str(first.get("suggestedUserMessage")),
        errors=entries,
    )


def exception_from_response(status_code: int, headers: Mapping[str, str], text: str) -> SmartcarException:
    """Build the exception for an HTTP error response, whatever its body looks like."""
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        return exception_from_body(status_code, body, headers)
    cls = exception_class_for(status_code, None, None)
    excerpt = " ".join(text.split())[:BODY_EXCERPT_LENGTH]
    return cls(
        f"HTTP {status_code}" + (f": {excerpt}" if excerpt else " with an empty body"),
        status_code=status_code,
        request_id=_optional_str(headers.get("sc-request-id")),
        retry_after=parse_retry_after(headers.get("retry-after")),
    )
