"""Sending requests to Smartcar: one pooled session, time-outs, safe retries, errors as exceptions.

The official SDK opens a new connection per call, waits up to 310 s, never retries and lets parse errors
escape. Here every request goes through ``Transport.send``, which fixes all four.
"""

from __future__ import annotations

import logging
import platform
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

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

DEFAULT_TIMEOUT: TimeoutSetting = 10.0
POOL_MAXSIZE = 32


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


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before repeating a request that is safe to repeat.

    Retried: 429 (waiting ``Retry-After`` seconds when given), 502, 503, 504, time-outs and connection
    errors. A ``Retry-After`` longer than ``max_retry_after`` is not waited for: the error is raised at
    once so the caller can reschedule (retrying sooner would only hit the limit again). Otherwise the
    wait doubles from ``backoff`` up to ``max_backoff``, with "equal jitter" (half fixed, half random) so
    that many workers do not retry in step.
    """

    max_attempts: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 30
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1")
        if self.backoff < 0 or self.max_backoff < 0 or self.max_retry_after < 0:
            raise ValueError("RetryPolicy delays cannot be negative")

    def delay_before_retry(self, attempt: int, error: SmartcarException) -> float | None:
        """Seconds to wait after failed attempt number ``attempt`` (from 1), or None to give up."""
        if attempt >= self.max_attempts or not error.retryable:
            return None
        if error.retry_after is not None:
            return float(error.retry_after) if error.retry_after <= self.max_retry_after else None
        return backoff_delay(attempt - 1, self.backoff, self.max_backoff, self.jitter)


NO_RETRY = RetryPolicy(max_attempts=1)


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
        timeout: TimeoutSetting = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        user_agent: str | None = None,
    ) -> None:
        self._origins = origins
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._owns_session = session is None
        self.session = session or _pooled_session()
        self.user_agent = user_agent or _default_user_agent()

    @property
    def origins(self) -> Origins:
        return self._origins or Origins.from_env()

    def __repr__(self) -> str:
        return f"Transport(origins={self._origins!r}, timeout={self.timeout!r}, retry={self.retry!r})"

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
    ) -> ApiResponse:
        """Send one request, repeating it per the retry policy only when ``retry_safe`` (reads).

        Raises a ``SmartcarException`` subclass for every failure: HTTP errors, time-outs, connection
        errors and bodies that are not a JSON object.
        """
        policy = self.retry if retry_safe else NO_RETRY
        # A fresh dict per request: headers must never leak from one call (or vehicle) into another.
        request_headers = CaseInsensitiveDict({"User-Agent": self.user_agent, "Accept": "application/json"})
        request_headers.update(headers or {})
        attempt = 1
        while True:
            try:
                return self._send_once(method, url, request_headers, params, json, data, auth)
            except SmartcarException as error:
                delay = policy.delay_before_retry(attempt, error)
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
                policy.sleep(delay)
                attempt += 1

    def _send_once(
        self,
        method: str,
        url: str,
        headers: CaseInsensitiveDict[str],
        params: Mapping[str, Any] | None,
        json: Any,
        data: Mapping[str, Any] | None,
        auth: tuple[str, str] | None,
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
                timeout=self.timeout,
                allow_redirects=False,
            )
        # Messages name the exception class only: requests' own text can include the full URL.
        except requests.Timeout as exc:
            raise SmartcarTimeout(f"Smartcar did not answer {method} {url} within {self.timeout}s") from exc
        except requests.ConnectionError as exc:
            raise SmartcarConnectionError(
                f"Could not connect to Smartcar for {method} {url} ({type(exc).__name__})"
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
        if not response.content.strip():
            return {}
        try:
            body = response.json()
        except ValueError as exc:
            raise InvalidResponseException(
                f"{method} {url} answered HTTP {response.status_code} with a body that is not JSON",
                status_code=response.status_code,
                request_id=response.headers.get("sc-request-id"),
            ) from exc
        if isinstance(body, list):
            # Smartcar answers some reads (service history) with a bare array: results read it as "items".
            return {"items": body}
        if not isinstance(body, dict):
            raise InvalidResponseException(
                f"{method} {url} answered with JSON that is not an object",
                status_code=response.status_code,
                request_id=response.headers.get("sc-request-id"),
            )
        return body

    def close(self) -> None:
        """Close the pooled connections (only if this transport created the session)."""
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_shared_transport: Transport | None = None
_shared_transport_lock = threading.Lock()


def shared_transport() -> Transport:
    """The process-wide transport used when none is given, so all such calls share one pool."""
    global _shared_transport
    with _shared_transport_lock:
        if _shared_transport is None:
            _shared_transport = Transport()
        return _shared_transport
