"""API V3's application token: one client-credentials token (one hour, no refresh token) for every request.

``ApplicationToken`` hands out a valid token and renews it a few minutes before it expires. It is safe to share
between threads (N threads asking at once make one request), and its ``TokenStore`` decides where the token is
kept: in this process (``MemoryTokenStore``) or, in the Django app, in the database behind a lock held across
processes, so that a whole site makes one token request per hour.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

from ..config import Origins
from ..exceptions import InvalidResponseException
from ..transport import TOKEN, Transport, shared_transport

# Smartcar documents one hour; used when an answer does not say.
DEFAULT_TOKEN_LIFETIME = timedelta(hours=1)
DEFAULT_RENEW_BEFORE = timedelta(minutes=5)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class CachedToken:
    """An application token and when it expires (aware UTC). The token never shows in its repr."""

    access_token: str = field(repr=False)
    expires_at: datetime

    def __post_init__(self) -> None:
        if not self.access_token or not isinstance(self.access_token, str):
            raise ValueError("CachedToken needs an access token")
        if not isinstance(self.expires_at, datetime):
            raise TypeError("CachedToken.expires_at must be a datetime")
        if self.expires_at.tzinfo is None:
            # Frozen dataclass: normalising in place needs object.__setattr__.
            object.__setattr__(self, "expires_at", self.expires_at.replace(tzinfo=timezone.utc))

    def valid_for(self, margin: timedelta, now: datetime | None = None) -> bool:
        """Whether the token is still valid ``margin`` from now."""
        return self.expires_at - margin > (now or utc_now())


@runtime_checkable
class TokenStore(Protocol):
    """Where an ``ApplicationToken`` keeps its token. ``locked()`` is held while the token is checked and, if
    need be, requested and saved: a store shared by several processes makes it a lock across them."""

    def load(self) -> CachedToken | None: ...

    def save(self, token: CachedToken) -> None: ...

    def locked(self) -> AbstractContextManager[None]: ...


class MemoryTokenStore:
    """The default store: the token lives in this process only (each process requests its own)."""

    def __init__(self) -> None:
        self._token: CachedToken | None = None
        self._lock = threading.Lock()

    def load(self) -> CachedToken | None:
        return self._token

    def save(self, token: CachedToken) -> None:
        self._token = token

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self._lock:
            yield

    def __repr__(self) -> str:
        expires = self._token.expires_at.isoformat() if self._token else None
        return f"MemoryTokenStore(expires_at={expires!r})"


def request_application_token(
    client_id: str,
    client_secret: str,
    *,
    transport: Transport | None = None,
    origins: Origins | None = None,
    clock: Clock = utc_now,
) -> CachedToken:
    """Ask Smartcar's IAM for an application token (OAuth client credentials, credentials in the form body).

    Never sent again after a failure that may have reached IAM (the transport's token rule); errors raise the
    same classes as v2's token errors (``OAuthException`` for ``invalid_client``, ``invalid_request``...), with
    the secret masked wherever IAM's text might quote it.
    """
    if not client_id or not isinstance(client_id, str):
        raise ValueError("request_application_token needs the API client id (client_...)")
    if not client_secret or not isinstance(client_secret, str):
        raise ValueError("request_application_token needs the API client secret")
    transport = transport or shared_transport()
    url = (origins or transport.origins).iam_token_url
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
    response = transport.send("POST", url, data=form, retry_safe=False, call=TOKEN, secrets=[client_secret])
    body = response.body
    token = body.get("access_token")
    request_id = response.headers.get("sc-request-id")
    if not isinstance(token, str) or not token:
        raise InvalidResponseException("The IAM token answer has no access_token", request_id=request_id)
    expires_in = body.get("expires_in")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0:
        lifetime = DEFAULT_TOKEN_LIFETIME
    else:
        lifetime = timedelta(seconds=expires_in)
    return CachedToken(token, clock() + lifetime)


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApplicationToken:
    """The application token of one set of API credentials, requested when needed and renewed
    ``renew_before`` its expiry; share one instance between threads (and give processes a shared store)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        transport: Transport | None = None,
        store: TokenStore | None = None,
        renew_before: timedelta = DEFAULT_RENEW_BEFORE,
        origins: Origins | None = None,
        clock: Clock = utc_now,
    ) -> None:
        if not client_id or not isinstance(client_id, str):
            raise ValueError("ApplicationToken needs the API client id (client_...)")
        if not client_secret or not isinstance(client_secret, str):
            raise ValueError("ApplicationToken needs the API client secret")
        if renew_before < timedelta(0):
            raise ValueError("renew_before cannot be negative")
        self.client_id = client_id
        self._client_secret = client_secret
        self._transport = transport
        self._origins = origins
        self.store: TokenStore = store if store is not None else MemoryTokenStore()
        self.renew_before = renew_before
        self._clock = clock
        self._current: CachedToken | None = None
        # Fingerprints of tokens Smartcar refused: a store may still hand one back until it is replaced.
        self._rejected: set[str] = set()
        self._lock = threading.Lock()
        self.requests_made = 0

    def __repr__(self) -> str:
        return f"ApplicationToken(client_id={self.client_id!r}, store={self.store!r})"

    @property
    def transport(self) -> Transport:
        return self._transport or shared_transport()

    def _usable(self, token: CachedToken, now: datetime) -> bool:
        return _fingerprint(token.access_token) not in self._rejected and token.valid_for(
            self.renew_before, now
        )

    def get(self) -> str:
        """A token valid for at least ``renew_before``: this process's copy, else the store's, else a new one."""
        # The clock is read first, on every call: the fast path takes no lock.
        now = self._clock()
        current = self._current
        if current is not None and self._usable(current, now):
            return current.access_token
        with self._lock:
            current = self._current
            if current is not None and self._usable(current, self._clock()):
                return current.access_token
            with self.store.locked():
                stored = self.store.load()
                if stored is None or not self._usable(stored, self._clock()):
                    stored = request_application_token(
                        self.client_id,
                        self._client_secret,
                        transport=self.transport,
                        origins=self._origins,
                        clock=self._clock,
                    )
                    self.requests_made += 1
                    self.store.save(stored)
            self._current = stored
            return stored.access_token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` (Smartcar answered 401 to it): the next ``get()`` uses a newer stored token or
        requests one. A token that is no longer the current one is ignored (another thread renewed already)."""
        with self._lock:
            self._rejected.add(_fingerprint(token))
            if self._current is not None and self._current.access_token == token:
                self._current = None
