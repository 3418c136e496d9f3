"""Sending one V3 request with a Bearer token: the rule shared by the Vehicle and Management APIs.

The transport's retry rule applies as for v2 (reads may be retried, commands never). The one addition: when the
token is an ``ApplicationToken`` and Smartcar answers 401, the token was refused before anything ran, so it is
forgotten, a new one obtained and the request sent once more (commands included).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

from ..config import Origins
from ..exceptions import SmartcarException
from ..transport import ApiResponse, PreparedRequest, Transport, shared_transport
from .results import Page
from .tokens import ApplicationToken

TokenSource = ApplicationToken | str | Callable[[], str]


class TokenCaller:
    """Holds the token source, transport and origins of a V3 API object and sends its requests."""

    def __init__(
        self,
        token: TokenSource,
        *,
        transport: Transport | None = None,
        origins: Origins | None = None,
    ) -> None:
        if not (isinstance(token, ApplicationToken) or callable(token) or (isinstance(token, str) and token)):
            raise ValueError("A V3 API needs an ApplicationToken, a token string or a callable returning one")
        self._token = token
        self._transport = transport
        self._origins = origins

    @property
    def transport(self) -> Transport:
        return self._transport or shared_transport()

    @property
    def origins(self) -> Origins:
        return self._origins or self.transport.origins

    def _current_token(self) -> str:
        token = self._token
        if isinstance(token, ApplicationToken):
            return token.get()
        if isinstance(token, str):
            return token
        value = token()
        if not value or not isinstance(value, str):
            raise ValueError("The token callable returned no token")
        return value

    def prepare(
        self,
        method: str,
        url: str,
        *,
        call: str,
        retry_safe: bool,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> PreparedRequest:
        """The request with the current token, built but not sent (bulk work sends many at once; a 401 is then
        the caller's to handle: ``ApplicationToken.invalidate`` and a later round)."""
        token = self._current_token()
        return PreparedRequest(
            method,
            url,
            headers={**(headers or {}), "Authorization": f"Bearer {token}"},
            params=params,
            json=json,
            retry_safe=retry_safe,
            call=call,
            secrets=(token,),
        )

    def send(
        self,
        method: str,
        url: str,
        *,
        call: str,
        retry_safe: bool,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> ApiResponse:
        resent = False
        while True:
            request = self.prepare(
                method, url, call=call, retry_safe=retry_safe, headers=headers, params=params, json=json
            )
            try:
                return self.transport.send_prepared(request)
            except SmartcarException as error:
                if error.status_code == 401 and isinstance(self._token, ApplicationToken) and not resent:
                    self._token.invalidate(request.secrets[0])
                    resent = True
                    continue
                raise


def required(value: str, what: str) -> str:
    """``value`` if it is a non-empty string, else a ValueError naming ``what``."""
    if not value or not isinstance(value, str):
        raise ValueError(f"{what} is required")
    return value


def path_segment(value: str, what: str) -> str:
    """``value`` (required) quoted as one URL path segment."""
    return quote(required(value, what), safe="")


def page_params(page: int, page_size: int | None) -> dict[str, Any]:
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise ValueError(f"page must be a page number from 1, got {page!r}")
    params: dict[str, Any] = {"page[number]": page}
    if page_size is not None:
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ValueError(f"page_size must be a positive number, got {page_size!r}")
        params["page[size]"] = page_size
    return params


def filter_params(pairs: Mapping[str, object]) -> dict[str, Any]:
    return {f"filter[{name}]": value for name, value in pairs.items() if value is not None}


def iterate_pages(fetch: Callable[[int], Page[Any]], first_page: int = 1) -> Iterator[Any]:
    """Every item of ``fetch(page)`` pages, from ``first_page`` until a page says there is no next one (or
    answers with another page than the one asked for: a server ignoring the page number would loop forever)."""
    page = first_page
    while True:
        answer = fetch(page)
        yield from answer.items
        if not answer.has_next or answer.page != page:
            return
        page += 1
