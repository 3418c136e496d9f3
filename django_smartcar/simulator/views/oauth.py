"""The token endpoint (``POST oauth/token``): authorization codes and refresh tokens for tokens."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .. import faults
from ..errors import ApiError, gateway_page, oauth_error
from ..tokens import OAuthError, exchange_code, exchange_refresh_token
from .credentials import client_application


# Called by servers with HTTP Basic client credentials, never by a browser form: no CSRF token to check.
@csrf_exempt
# The new tokens must be committed before a "lost response" fault throws the answer away.
@transaction.non_atomic_requests
def token(request: HttpRequest) -> HttpResponse:
    with faults.read_once_per_request():
        return _token(request)


def _token(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return oauth_error("invalid_request", "The token endpoint only accepts POST.", status=405)
    failure = faults.failure_for(target="token", vehicle_id=None)
    if isinstance(failure, ApiError):
        return failure.response(str(uuid.uuid4()))
    if failure is not None:
        return failure

    application = client_application(request)
    if application is None:
        return oauth_error(
            "invalid_client", "Invalid client credentials (HTTP Basic client_id:client_secret).", 401
        )
    grant_type = request.POST.get("grant_type")
    try:
        if grant_type == "authorization_code":
            tokens = exchange_code(
                application, request.POST.get("code", ""), request.POST.get("redirect_uri")
            )
        elif grant_type == "refresh_token":
            tokens = exchange_refresh_token(application, request.POST.get("refresh_token", ""))
        else:
            raise OAuthError(
                "unsupported_grant_type", "grant_type must be authorization_code or refresh_token."
            )
    except OAuthError as error:
        return oauth_error(error.error, error.description, error.status)

    if faults.loses_token_response():
        return gateway_page(504)
    answer = JsonResponse(tokens)
    answer["Cache-Control"] = "no-store"
    return answer
