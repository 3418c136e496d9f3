"""API V3's JSON:API answers: error documents and page-number paging.

V3 reports errors as ``{"errors": [{"status": "400", "type", "code", "title", "detail", "links": {"about"}}]}``
(status a string, several errors possible) [err v3], built here from the same catalogue as v2's flat bodies
(``errors.ApiError``): same types, codes, statuses, resolutions and descriptions. Lists page by number:
``page[number]`` (from 1) and ``page[size]``, answered with ``meta.totalCount`` and ``links`` self, first, prev,
next and last [conn, HAv3].
"""

from __future__ import annotations

import functools
import math
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .errors import DOCS, ApiError, api_json, resolution_type

# 430 is Smartcar's own status; HTTPStatus has no phrase for it.
TITLES = {430: "Billing Limit"}

# V3's validation codes [err v3; MISSING_PARAMETER per HAv3].
INVALID_INPUT_FORMAT = "INVALID_INPUT_FORMAT"
MISSING_PARAMETER = "MISSING_PARAMETER"


def title(status: int) -> str:
    if status in TITLES:
        return TITLES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_object(error: ApiError) -> dict[str, Any]:
    """One entry of ``errors``: the v2 error's facts in JSON:API's members."""
    entry: dict[str, Any] = {
        "status": str(error.status),
        "type": error.type,
        "code": error.code,
        "title": title(error.status),
        "detail": error.description,
        # The captured example links the type's page without an anchor [err v3].
        "links": {"about": f"{DOCS}/{error.type.lower().replace('_', '-')}-errors"},
    }
    resolution: dict[str, str | None] = {"type": resolution_type(error.type, error.code)}
    if error.resolution_url:
        resolution["url"] = error.resolution_url
    entry["resolution"] = resolution
    if error.suggested_user_message is not None:
        entry["suggestedUserMessage"] = error.suggested_user_message
    if error.detail:
        fields = [item.get("field") for item in error.detail if item.get("field")]
        if fields:
            entry["source"] = {"parameter": fields[0]}
    return entry


def error_response(error: ApiError | Sequence[ApiError], request_id: str) -> JsonResponse:
    """The JSON:API error document for one or more errors; the HTTP status (and Retry-After, extra headers)
    is the first error's."""
    listed = [error] if isinstance(error, ApiError) else list(error)
    first = listed[0]
    answer = api_json({"errors": [error_object(item) for item in listed]}, request_id, status=first.status)
    if first.retry_after is not None:
        answer["Retry-After"] = str(first.retry_after)
    for name, value in first.extra_headers.items():
        answer[name] = value
    return answer


def validation_error(
    detail: str, parameter: str | None = None, *, code: str = INVALID_INPUT_FORMAT
) -> ApiError:
    """400 VALIDATION with a V3 code (INVALID_INPUT_FORMAT, MISSING_PARAMETER) and the offending parameter."""
    return ApiError(
        400,
        "VALIDATION",
        code,
        detail,
        detail=[{"field": parameter, "message": detail}] if parameter else None,
    )


def not_found(detail: str) -> ApiError:
    return ApiError(404, "RESOURCE_NOT_FOUND", "PATH", detail)


@dataclass(frozen=True)
class Paging:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def paging(request: HttpRequest, *, default_size: int, max_size: int) -> Paging:
    """``page[number]`` (1 or more, default 1) and ``page[size]`` (1..max_size, default ``default_size``), or 400
    VALIDATION naming the parameter."""
    values: dict[str, int] = {}
    for name, default, highest in (("page[number]", 1, None), ("page[size]", default_size, max_size)):
        raw = request.GET.get(name)
        try:
            value = default if raw in (None, "") else int(str(raw))
        except ValueError:
            value = 0
        if value < 1 or (highest is not None and value > highest):
            bounds = f"between 1 and {highest}" if highest else "1 or more"
            raise validation_error(f"{name} must be an integer {bounds}.", name)
        values[name] = value
    return Paging(number=values["page[number]"], size=values["page[size]"])


def page_link(request: HttpRequest, path: str, number: int, size: int) -> str:
    """A link to another page of the same list, relative to the API's root like V3's ``self`` links
    (``/connections?filter[userId]=...&page[number]=2&page[size]=10``), keeping the request's filters."""
    flat = [
        (key, value) for key, values in request.GET.lists() if not key.startswith("page[") for value in values
    ]
    flat += [("page[number]", str(number)), ("page[size]", str(size))]
    return f"{path}?{urlencode(flat, safe='[]')}"


def page_document(
    request: HttpRequest,
    path: str,
    data: Iterable[dict[str, Any]],
    *,
    total: int,
    page: Paging,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``{"data", "meta": {"page", "pageSize", "totalCount"}, "links": {self, first, prev, next, last}}``;
    prev and next are null where there is no such page, last is the first page of an empty list."""
    last = max(1, math.ceil(total / page.size))
    return {
        "data": list(data),
        "meta": {"page": page.number, "pageSize": page.size, "totalCount": total, **(meta or {})},
        "links": {
            "self": page_link(request, path, page.number, page.size),
            "first": page_link(request, path, 1, page.size),
            "prev": page_link(request, path, page.number - 1, page.size) if page.number > 1 else None,
            "next": page_link(request, path, page.number + 1, page.size) if page.number < last else None,
            "last": page_link(request, path, last, page.size),
        },
    }


View = Callable[..., HttpResponse]


def jsonapi_view(view: View) -> View:
    """An API V3 view: called with a request id after the request, its raised ``ApiError``s answered as JSON:API
    error documents, every answer carrying ``SC-Request-Id``. API calls with tokens, never browser forms, hence
    csrf_exempt."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        request_id = str(uuid.uuid4())
        try:
            response = view(request, request_id, *args, **kwargs)
        except ApiError as error:
            return error_response(error, request_id)
        response.setdefault("SC-Request-Id", request_id)
        return response

    return wrapper


def resource_not_found(method: str | None, path: str) -> ApiError:
    """404 RESOURCE_NOT_FOUND/PATH for a path API V3 does not have."""
    return not_found(
        f"The requested resource ({method} {path}) does not exist. Please check the URL and try again."
    )


@jsonapi_view
def unknown_path(request: HttpRequest, request_id: str, path: str) -> HttpResponse:
    raise resource_not_found(request.method, request.path)
