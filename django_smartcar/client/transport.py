"""Sending requests to Smartcar: one pooled session, time-outs, safe retries, errors as exceptions.

The official SDK opens a new connection per call, waits up to 310 s for anything, never retries and lets parse
errors escape. Here every request goes through ``Transport.send``: pooled connections, a time-out per call
class (token and management calls short; vehicle reads and commands as long as Smartcar may take, 310 s like
the SDK), retries only where they cannot repeat a billed call without cause, and errors as exceptions.
"""

from __future__ import annotations

import json
import logging
import platform
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from django_smartcar import __version__

from .config import Origins
from .exceptions import (
    InvalidResponseException,
    SmartcarConnectionError,
    SmartcarException,
    SmartcarTimeout,
    exception_from_response,
)
from .redaction import redact_url

logger = logging.getLogger("django_smartcar.client")

TimeoutSetting = float | tuple[float, float]

# The classes of calls, each with its own time-out (see ``Timeouts``).
TOKEN, READ, COMMAND, MANAGEMENT = "token", "read", "command", "management"
CALL_CLASSES = (TOKEN, READ, COMMAND, MANAGEMENT)

POOL_MAXSIZE = 32


@dataclass(frozen=True)
class Timeouts:
    """Seconds (or ``(connect, read)`` pairs) each class of call may take before ``SmartcarTimeout``.

    * ``token``: the OAuth token endpoint (Smartcar's own servers; answers in about a second).
    * ``management``: the management API (connections, webhook unsubscribe), also answered by Smartcar alone.
    * ``read``: the Vehicle API's GETs and ``batch`` (``/user`` and ``/vehicles`` included), which wait for the
      car's cloud: 3-45 s typically, up to 300 s.
    * ``command``: lock, unlock, charge, navigation, disconnect, webhook subscribe: as long as reads (Smartcar
      holds a command up to about 175 s before answering).

    The defaults let the slowest answer Smartcar documents arrive (300 s, hence the SDK's 310 s) and keep the
    calls that never reach a car short: a token refresh that hangs is left for a retry inside the used refresh
    token's grace minute.
    """

    token: TimeoutSetting = 20.0
    read: TimeoutSetting = 310.0
    command: TimeoutSetting = 310.0
    management: TimeoutSetting = 30.0

    def __post_init__(self) -> None:
        for name in CALL_CLASSES:
            value = getattr(self, name)
            parts = value if isinstance(value, tuple) else (value,)
            if (
                not parts
                or len(parts) > 2
                or any(
                    isinstance(part, bool) or not isinstance(part, int | float) or part <= 0 for part in parts
                )
            ):
                raise ValueError(
                    f"Timeouts.{name} must be a positive number of seconds or a (connect, read) pair"
                )

    @classmethod
    def every(cls, timeout: TimeoutSetting) -> Timeouts:
        """The same time-out for every class of call (what a single ``timeout`` used to mean)."""
        return cls(token=timeout, read=timeout, command=timeout, management=timeout)

    def for_call(self, call: str) -> TimeoutSetting:
        if call not in CALL_CLASSES:
            raise ValueError(f"call must be one of {', '.join(CALL_CLASSES)}, not {call!r}")
        value: TimeoutSetting = getattr(self, call)
        return value

    def scaled(self, factor: float) -> Timeouts:
        """Every time-out multiplied by ``factor``: to match a simulator whose latency is time-scaled."""

        def scale(value: TimeoutSetting) -> TimeoutSetting:
            if isinstance(value, tuple):
                return (value[0] * factor, value[1] * factor)
            return value * factor

        return Timeouts(**{name: scale(getattr(self, name)) for name in CALL_CLASSES})


DEFAULT_TIMEOUTS = Timeouts()
# Kept for code that imported it: the read time-out, the one most calls use.
DEFAULT_TIMEOUT: TimeoutSetting = DEFAULT_TIMEOUTS.read


def backoff_delay(
    retries: int,
    backoff: float,
    max_backoff: float | None = None,
    jitter: Callable[[], float] = random.random,
) -> float:
    """Seconds before retry number ``retries + 1``: doubling from ``backoff`` (capped at ``max_backoff``), with
    "equal jitter" (half fixed, half random) so that many workers do not retry in step. The one backoff rule, of
    the client's retries and of the Celery tasks' alike."""
    ceiling = backoff * 2.0**retries  # a float power: int ** int is typed Any
    if max_backoff is not None:
        ceiling = min(max_backoff, ceiling)
    return ceiling / 2 + jitter() * ceiling / 2


def may_have_run(error: SmartcarException) -> bool:
    """Whether Smartcar may have run (and billed) the request that failed this way without answering it: a
    time-out or a connection lost after sending, or a gateway's 504 (it gave up waiting, the work went on)."""
    if isinstance(error, SmartcarConnectionError):
        return error.request_sent
    return error.status_code == 504


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before sending a failed request again; the rule is never to repeat a call
    Smartcar may have run and billed without cause.

    * A request that never left (connection refused or never set up: ``request_sent`` False) is sent again,
      whatever it is: nothing ran.
    * Commands and token exchanges are sent again for nothing else: after a time-out, a reset or a 5xx the
      command may have run (a lock, a charge start), a refresh token may have rotated.
    * Reads (GETs and ``batch``) are sent again after 429 (waiting its ``Retry-After`` when given), 502, 503,
      and at most ``max_timeout_retries`` times (default once) after a failure that may have run and been
      billed: a time-out, a connection lost after sending, a 504. A 500 is not retried.

    A ``Retry-After`` longer than ``max_retry_after`` is not waited for: the error is raised at once so the
    caller can reschedule (retrying sooner would only hit the limit again). Otherwise the wait doubles from
    ``backoff`` up to ``max_backoff``, with "equal jitter" (half fixed, half random) so that many workers do
    not retry in step. ``max_attempts`` bounds every call, first attempt included.
    """

    max_attempts: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 30
    max_timeout_retries: int = 1
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1")
        if self.backoff < 0 or self.max_backoff < 0 or self.max_retry_after < 0:
            raise ValueError("RetryPolicy delays cannot be negative")
        if self.max_timeout_retries < 0:
            raise ValueError("RetryPolicy.max_timeout_retries cannot be negative")

    def delay_before_retry(
        self,
        attempt: int,
        error: SmartcarException,
        *,
        read: bool = True,
        earlier_timeouts: int = 0,
    ) -> float | None:
        """Seconds to wait after failed attempt number ``attempt`` (from 1), or None to give up.

        ``read``: the request is a read (False: a command or token exchange); ``earlier_timeouts``: how many
        of the earlier attempts of this call failed in a way that may have run (``may_have_run``).
        """
        if attempt >= self.max_attempts or not error.retryable:
            return None
        if isinstance(error, SmartcarConnectionError) and not error.request_sent:
            return self._backoff(attempt)
        if not read:
            return None
        if may_have_run(error) and earlier_timeouts >= self.max_timeout_retries:
            return None
        if error.retry_after is not None:
            return float(error.retry_after) if error.retry_after <= self.max_retry_after else None
        return self._backoff(attempt)

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(attempt - 1, self.backoff, self.max_backoff, self.jitter)


NO_RETRY = RetryPolicy(max_attempts=1)


@dataclass(frozen=True)
class PreparedRequest:
    """One Smartcar request, built but not sent: what the synchronous ``Transport`` and the ``AsyncTransport``
    of bulk work (``client.aio``) both send, so that a call is built and its answer parsed in one place."""

    method: str
    url: str
    headers: Mapping[str, str] | None = None
    params: Mapping[str, Any] | None = None
    json: Any = None
    data: Mapping[str, Any] | None = None
    auth: tuple[str, str] | None = None
    retry_safe: bool = False
    call: str | None = None
    secrets: tuple[str, ...] = ()

    def __repr__(self) -> str:
        # Headers, bodies and auth carry tokens and secrets: only the method and the redacted URL are shown.
        return f"PreparedRequest({self.method} {redact_url(self.url)})"

    @property
    def call_class(self) -> str:
        """The class of call whose time-out applies (``send``'s rule: ``read`` when retry-safe, else
        ``command``)."""
        return self.call or (READ if self.retry_safe else COMMAND)


@dataclass(frozen=True)
class ApiResponse:
    """A successful answer: status, headers (case-insensitive) and the decoded JSON object."""

    status_code: int
    headers: CaseInsensitiveDict[str]
    body: dict[str, Any]


def _default_user_agent() -> str:
    python, requests_version = platform.python_version(), requests.__version__
    return f"django-smartcar/{__version__} (Python {python}; requests {requests_version})"


def _pooled_session() -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_MAXSIZE, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    # The session is shared by every user's requests: a cookie set for one must never reach another.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return session


class Transport:
    """Sends requests to Smartcar over one pooled ``requests.Session``; safe to share between threads.

    ``origins`` fixes the hosts for callers that use this transport's origins; without it they are read
    from the environment on every call (see ``Origins.from_env``).
    """

    def __init__(
        self,
        origins: Origins | None = None,
        timeout: TimeoutSetting | None = None,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        user_agent: str | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        """``timeouts`` sets each class of call's time-out (default ``Timeouts()``); ``timeout`` alone, as
        before, sets one time-out for every call."""
        if timeouts is not None and timeout is not None:
            raise ValueError("Give Transport either timeout (one for every call) or timeouts, not both")
        self._origins = origins
        self.timeouts = timeouts or (Timeouts.every(timeout) if timeout is not None else DEFAULT_TIMEOUTS)
        self.retry = retry or RetryPolicy()
        self._owns_session = session is None
        self.session = session or _pooled_session()
        self.user_agent = user_agent or _default_user_agent()

    @property
    def origins(self) -> Origins:
        return self._origins or Origins.from_env()

    @property
    def timeout(self) -> TimeoutSetting:
        """The read time-out (the one most calls use)."""
        return self.timeouts.read

    def __repr__(self) -> str:
        return f"Transport(origins={self._origins!r}, timeouts={self.timeouts!r}, retry={self.retry!r})"

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        auth: tuple[str, str] | None = None,
        retry_safe: bool = False,
        call: str | None = None,
        secrets: Iterable[str] = (),
    ) -> ApiResponse:
        """Send one request; ``retry_safe`` marks a read (GET, ``batch``), which the retry policy may repeat.

        ``call`` names the class of call whose time-out applies (``token``, ``read``, ``command``,
        ``management``; default ``read`` when ``retry_safe``, else ``command``). Raises a
        ``SmartcarException`` subclass for every failure: HTTP errors, time-outs, connection errors and bodies
        that are not a JSON object. ``secrets`` (the token or secret the request carries) are masked wherever an
        error's text quotes them, before it is logged or raised.
        """
        call = call or (READ if retry_safe else COMMAND)
        secrets = [secret for secret in secrets if secret]
        timeout = self.timeouts.for_call(call)
        policy = self.retry
        # A fresh dict per request: headers must never leak from one call (or vehicle) into another.
        request_headers = CaseInsensitiveDict({"User-Agent": self.user_agent, "Accept": "application/json"})
        request_headers.update(headers or {})
        attempt, timeouts = 1, 0
        while True:
            try:
                return self._send_once(method, url, request_headers, params, json, data, auth, timeout)
            except SmartcarException as error:
                if secrets:
                    error.hide(secrets)
                delay = policy.delay_before_retry(attempt, error, read=retry_safe, earlier_timeouts=timeouts)
                if delay is None:
                    raise
                logger.warning(
                    "Smartcar %s %s failed (%s); retry %d/%d in %.2fs",
                    method,
                    redact_url(url),
                    error,
                    attempt,
                    policy.max_attempts - 1,
                    delay,
                )
                timeouts += may_have_run(error)
                policy.sleep(delay)
                attempt += 1

    def send_prepared(self, request: PreparedRequest) -> ApiResponse:
        """``send`` for a request built by a ``PreparedRequest`` factory."""
        return self.send(
            request.method,
            request.url,
            headers=request.headers,
            params=request.params,
            json=request.json,
            data=request.data,
            auth=request.auth,
            retry_safe=request.retry_safe,
            call=request.call,
            secrets=request.secrets,
        )

    def _send_once(
        self,
        method: str,
        url: str,
        headers: CaseInsensitiveDict[str],
        params: Mapping[str, Any] | None,
        json: Any,
        data: Mapping[str, Any] | None,
        auth: tuple[str, str] | None,
        timeout: TimeoutSetting,
    ) -> ApiResponse:
        try:
            response = self.session.request(
                method,
                url,
                headers=headers,
                params=params,
                json=json,
                data=data,
                auth=auth,
                timeout=timeout,
                allow_redirects=False,
            )
        # Messages name the exception class only: requests' own text can include the full URL.
        except requests.ConnectTimeout as exc:
            raise SmartcarTimeout(
                f"Could not connect to Smartcar for {method} {url} within {timeout}s", request_sent=False
            ) from exc
        except requests.Timeout as exc:
            raise SmartcarTimeout(f"Smartcar did not answer {method} {url} within {timeout}s") from exc
        except requests.ConnectionError as exc:
            raise SmartcarConnectionError(
                f"Could not connect to Smartcar for {method} {url} ({type(exc).__name__})",
                request_sent=not _never_connected(exc),
            ) from exc
        except requests.RequestException as exc:
            raise SmartcarException(f"Request {method} {url} failed ({type(exc).__name__})") from exc

        if response.status_code >= 400:
            raise exception_from_response(response.status_code, response.headers, response.text)
        if 300 <= response.status_code < 400:
            raise InvalidResponseException(
                f"Unexpected redirect (HTTP {response.status_code}) from {method} {url}",
                status_code=response.status_code,
                request_id=response.headers.get("sc-request-id"),
            )
        return ApiResponse(response.status_code, response.headers, self._decode(response, method, url))

    @staticmethod
    def _decode(response: requests.Response, method: str, url: str) -> dict[str, Any]:
        return decode_body(response.status_code, response.headers, response.content, method, url)

    def close(self) -> None:
        """Close the pooled connections (only if this transport created the session)."""
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def decode_body(
    status_code: int, headers: Mapping[str, str], content: bytes, method: str, url: str
) -> dict[str, Any]:
    """A successful answer's body as a JSON object (a bare array is read as ``{"items": [...]}``; an empty body
    as ``{}``); anything else raises ``InvalidResponseException``. Shared by both transports."""
    if not content.strip():
        return {}
    try:
        body = json.loads(content)
    except ValueError as exc:
        raise InvalidResponseException(
            f"{method} {url} answered HTTP {status_code} with a body that is not JSON",
            status_code=status_code,
            request_id=headers.get("sc-request-id"),
        ) from exc
    if isinstance(body, list):
        # Smartcar answers some reads (service history) with a bare array: results read it as "items".
        return {"items": body}
    if not isinstance(body, dict):
        raise InvalidResponseException(
            f"{method} {url} answered with JSON that is not an object",
            status_code=status_code,
            request_id=headers.get("sc-request-id"),
        )
    return body


def _never_connected(error: requests.ConnectionError) -> bool:
    """Whether the connection was never set up (refused, unresolvable host), so nothing was sent. urllib3
    reports those as a ``MaxRetryError`` whose reason is a ``NewConnectionError`` (a ``ConnectTimeoutError``);
    a connection lost after sending arrives as a bare ``ProtocolError``."""
    reason = error.args[0] if error.args else None
    return isinstance(reason, MaxRetryError) and isinstance(reason.reason, ConnectTimeoutError)


_shared_transport: Transport | None = None
_shared_transport_lock = threading.Lock()


def shared_transport() -> Transport:
    """The process-wide transport used when none is given, so all such calls share one pool."""
    global _shared_transport
    with _shared_transport_lock:
        if _shared_transport is None:
            _shared_transport = Transport()
        return _shared_transport
