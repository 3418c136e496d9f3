"""Sending many Smartcar requests at once from one thread: the asyncio transport of bulk work.

Smartcar's vehicle requests take 3-45 s (up to 300 s), so a worker spends its time waiting. ``AsyncTransport``
keeps hundreds of requests in flight on one event loop (``httpx.AsyncClient``, small pools) instead of a thread
per request. It sends the same ``PreparedRequest`` the synchronous ``Transport`` sends and raises the same
exceptions, but never retries and never sleeps: bulk callers reschedule what failed (a rate limit's
``Retry-After`` is the scheduler's business, not a worker's).
"""

from __future__ import annotations

import asyncio
import platform
import queue
import ssl
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

import certifi
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
DEFAULT_MAX_IN_FLIGHT = 256
# httpcore's pool looks at every one of its connections each time a request starts or ends (is it idle, has it
# expired): the CPU per request grows with the pool, and with it the square of the requests in flight. At 400 in
# flight that scan was 41 % of a bulk worker's CPU (benchmark 5, sampled with py-spy). Several small pools keep
# each scan short; a request goes to the pool with the most connections free.
POOL_SHARD_SIZE = 32

KeyT = TypeVar("KeyT")


_tls_context: ssl.SSLContext | None = None
_tls_context_lock = threading.Lock()


def shared_tls_context() -> ssl.SSLContext:
    """One verifying TLS context (certifi's CA bundle, as httpx's default) for every ``AsyncTransport`` of the
    process. httpx builds a new one per client otherwise, loading the bundle each time: about 1 MiB and 40 ms of
    CPU per client, paid by every bulk task (each chunk of a rotation) and held by each one running at once."""
    global _tls_context
    with _tls_context_lock:
        if _tls_context is None:
            _tls_context = ssl.create_default_context(cafile=certifi.where())
        return _tls_context


def _shard_sizes(max_connections: int) -> list[int]:
    """``max_connections`` split into as few pools of at most ``POOL_SHARD_SIZE`` as can hold them, as equal as
    can be (100: 25, 25, 25, 25)."""
    if max_connections < 1:
        raise ValueError(f"max_connections must be at least 1, got {max_connections!r}")
    pools = -(-max_connections // POOL_SHARD_SIZE)
    size, rest = divmod(max_connections, pools)
    return [size + 1] * rest + [size] * (pools - rest)


def _default_user_agent() -> str:
    return f"django-smartcar/{__version__} (Python {platform.python_version()}; httpx {httpx.__version__})"


def _httpx_timeout(setting: TimeoutSetting) -> httpx.Timeout:
    if isinstance(setting, tuple):
        connect, read = setting
        return httpx.Timeout(read, connect=connect)
    return httpx.Timeout(setting)


class AsyncTransport:
    """Pooled ``httpx.AsyncClient``s for one event loop; ``max_connections`` bounds the sockets (and so the
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
        sizes = _shard_sizes(max_connections)
        self._clients = [
            httpx.AsyncClient(
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
                follow_redirects=False,
                verify=shared_tls_context(),
                # The clients are shared by every user's requests: a cookie set for one must never reach another.
                cookies=None,
                trust_env=False,
            )
            for size in sizes
        ]
        self._room = sizes  # connections free, per pool

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
        kwargs: dict[str, Any] = {}
        if request.json is not None:
            kwargs["json"] = request.json
        if request.data is not None:
            kwargs["data"] = dict(request.data)
        # The pool with the most connections free (the event loop is one thread: counting needs no lock).
        shard = max(range(len(self._clients)), key=self._room.__getitem__)
        client = self._clients[shard]
        client.cookies.clear()
        self._room[shard] -= 1
        try:
            response = await client.request(
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
        finally:
            self._room[shard] += 1

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
        for client in self._clients:
            await client.aclose()

    async def __aenter__(self) -> AsyncTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def send_all(
    requests: Iterable[tuple[KeyT, PreparedRequest]],
    *,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    timeouts: Timeouts | None = None,
) -> Iterator[tuple[KeyT, ApiResponse | SmartcarException]]:
    """Send every request with up to ``max_in_flight`` of them waiting on Smartcar at once; yield each one's
    key with its answer or its ``SmartcarException``, in the order they complete.

    For synchronous callers (a Celery task, a management command): the event loop runs in a thread of its own
    that only does HTTP, while the calling thread keeps everything else (the database above all, which Django
    does not let async code touch) and works on each answer as it is yielded. ``requests`` is read lazily, one
    request per answer received, so memory is bounded by ``max_in_flight`` whatever the number of requests.
    An exception other than a ``SmartcarException`` is a bug: it is raised, not yielded. Closing the generator
    early stops the loop; requests still in flight are abandoned (the caller never saw their answers).
    """
    if max_in_flight < 1:
        raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight!r}")
    with _LoopThread() as loop:
        transport = loop.call(_open_transport(timeouts, max_in_flight))
        try:
            completed: queue.SimpleQueue[tuple[KeyT, Future[ApiResponse]]] = queue.SimpleQueue()
            pending = iter(requests)
            in_flight = 0
            while True:
                for key, request in pending:
                    future = loop.submit(transport.send(request))
                    future.add_done_callback(lambda done, key=key: completed.put((key, done)))  # type: ignore[misc]
                    in_flight += 1
                    if in_flight >= max_in_flight:
                        break
                if not in_flight:
                    return
                key, future = completed.get()
                in_flight -= 1
                error = future.exception()
                if error is None:
                    yield key, future.result()
                elif isinstance(error, SmartcarException):
                    yield key, error
                else:
                    raise error
        finally:
            loop.call(transport.aclose())


async def _open_transport(timeouts: Timeouts | None, max_connections: int) -> AsyncTransport:
    # httpx binds its pool to the loop that creates it: made inside the loop's own thread.
    return AsyncTransport(timeouts=timeouts, max_connections=max_connections)


async def _cancel_other_tasks() -> None:
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task():
            task.cancel()


class _LoopThread:
    """An asyncio event loop running in a daemon thread for as long as the ``with`` block lasts."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="smartcar-bulk-http", daemon=True)

    def __enter__(self) -> _LoopThread:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.call(_cancel_other_tasks())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def submit(self, coroutine: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def call(self, coroutine: Any) -> Any:
        return self.submit(coroutine).result()
