"""Sending many Smartcar requests at once from one thread: the asyncio transport of bulk work.

Smartcar's vehicle requests take 3-45 s (up to 300 s), so a worker spends its time waiting. ``AsyncTransport``
keeps hundreds of requests in flight on one event loop (``httpx.AsyncClient``, one pool) instead of a thread
per request. It sends the same ``PreparedRequest`` the synchronous ``Transport`` sends and raises the same
exceptions, but never retries and never sleeps: bulk callers reschedule what failed (a rate limit's
``Retry-After`` is the scheduler's business, not a worker's).
"""

from __future__ import annotations

import platform
from typing import Any

import httpx
from requests.structures import CaseInsensitiveDict

from django_smartcar import __version__

from .exceptions import (
    InvalidResponseException,
    SmartcarConnectionError,
    SmartcarException,
    SmartcarTimeout,
    exception_from_response,
)
from .transport import DEFAULT_TIMEOUTS, ApiResponse, PreparedRequest, Timeouts, TimeoutSetting, decode_body

DEFAULT_MAX_CONNECTIONS = 512


def _default_user_agent() -> str:
    return f"django-smartcar/{__version__} (Python {platform.python_version()}; httpx {httpx.__version__})"


def _httpx_timeout(setting: TimeoutSetting) -> httpx.Timeout:
    if isinstance(setting, tuple):
        connect, read = setting
        return httpx.Timeout(read, connect=connect)
    return httpx.Timeout(setting)


class AsyncTransport:
    """One pooled ``httpx.AsyncClient`` for one event loop; ``max_connections`` bounds the sockets (and so the
    memory) whatever the number of requests waiting. Use as ``async with AsyncTransport() as transport``."""

    def __init__(
        self,
        *,
        timeouts: Timeouts | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        user_agent: str | None = None,
    ) -> None:
        self.timeouts = timeouts or DEFAULT_TIMEOUTS
        self.max_connections = max_connections
        self.user_agent = user_agent or _default_user_agent()
        self._client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            follow_redirects=False,
            # The client is shared by every user's requests: a cookie set for one must never reach another.
            cookies=None,
            trust_env=False,
        )

    def __repr__(self) -> str:
        return f"AsyncTransport(max_connections={self.max_connections}, timeouts={self.timeouts!r})"

    async def send(self, request: PreparedRequest) -> ApiResponse:
        """Send ``request`` once; raise a ``SmartcarException`` subclass for every failure, its text free of
        the request's ``secrets``."""
        try:
            return await self._send_once(request)
        except SmartcarException as error:
            if request.secrets:
                error.hide([secret for secret in request.secrets if secret])
            raise

    async def _send_once(self, request: PreparedRequest) -> ApiResponse:
        method, url = request.method, request.url
        timeout = self.timeouts.for_call(request.call_class)
        headers = CaseInsensitiveDict({"User-Agent": self.user_agent, "Accept": "application/json"})
        headers.update(request.headers or {})
        self._client.cookies.clear()
        kwargs: dict[str, Any] = {}
        if request.json is not None:
            kwargs["json"] = request.json
        if request.data is not None:
            kwargs["data"] = dict(request.data)
        try:
            response = await self._client.request(
                method,
                url,
                headers=dict(headers),
                params=dict(request.params) if request.params else None,
                auth=request.auth,
                timeout=_httpx_timeout(timeout),
                **kwargs,
            )
        # Messages name the exception class only: httpx's own text can include the full URL.
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise SmartcarTimeout(
                f"Could not connect to Smartcar for {method} {url} within {timeout}s", request_sent=False
            ) from exc
        except httpx.TimeoutException as exc:
            raise SmartcarTimeout(f"Smartcar did not answer {method} {url} within {timeout}s") from exc
        except httpx.ConnectError as exc:
            raise SmartcarConnectionError(
                f"Could not connect to Smartcar for {method} {url} ({type(exc).__name__})", request_sent=False
            ) from exc
        except httpx.TransportError as exc:
            raise SmartcarConnectionError(
                f"Connection to Smartcar lost for {method} {url} ({type(exc).__name__})"
            ) from exc
        except httpx.HTTPError as exc:
            raise SmartcarException(f"Request {method} {url} failed ({type(exc).__name__})") from exc

        if response.status_code >= 400:
            raise exception_from_response(response.status_code, response.headers, response.text)
        if 300 <= response.status_code < 400:
            raise InvalidResponseException(
                f"Unexpected redirect (HTTP {response.status_code}) from {method} {url}",
                status_code=response.status_code,
                request_id=response.headers.get("sc-request-id"),
            )
        response_headers = CaseInsensitiveDict(dict(response.headers.items()))
        body = decode_body(response.status_code, response_headers, response.content, method, url)
        return ApiResponse(response.status_code, response_headers, body)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> AsyncTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
