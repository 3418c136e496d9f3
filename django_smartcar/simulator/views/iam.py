"""API V3's IAM token endpoint (``POST /oauth2/token``): the client-credentials grant for application tokens.

Credentials come in the body, form-encoded as documented [tok]; a JSON body is accepted too (the spec labels
the body JSON and an integration sends it so). No HTTP Basic header: Smartcar documents the body only. Errors
are OAuth's ``{"error", "error_description"}`` [tok, RFC 6749]: 400 invalid_request / unsupported_grant_type, 401
invalid_client. Counted in the request counts (``_simulator/requests``: method POST, path ``/oauth2/token``).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .. import faults, traffic
from ..app_tokens import application_for_credentials, issue_app_token
from ..errors import ApiError, gateway_page, oauth_error

TOKEN_PATH = "oauth2/token"


def token_parameters(request: HttpRequest) -> dict[str, Any] | None:
    """The body's parameters (form or JSON object), or None when it is neither."""
    content_type = request.content_type or ""
    if content_type == "application/json" or (not request.POST and request.body[:1] == b"{"):
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return None
        return body if isinstance(body, dict) else None
    return request.POST.dict()


# Called by servers with client credentials, never by a browser form: no CSRF token to check.
@csrf_exempt
# The token must be committed before a "lost response" fault throws the answer away.
@transaction.non_atomic_requests
def token(request: HttpRequest) -> HttpResponse:
    traffic.record("", request.method or "", TOKEN_PATH)
    if request.method != "POST":
        return oauth_error("invalid_request", "The token endpoint only accepts POST.", status=405)
    failure = faults.failure_for(target="token", vehicle_id=None)
    if isinstance(failure, ApiError):
        return failure.response(str(uuid.uuid4()))
    if failure is not None:
        return failure

    parameters = token_parameters(request)
    if parameters is None:
        return oauth_error("invalid_request", "The body must be form-encoded (or a JSON object).")
    grant_type = parameters.get("grant_type")
    if not grant_type:
        return oauth_error("invalid_request", "The grant_type parameter is required.")
    if grant_type != "client_credentials":
        return oauth_error("unsupported_grant_type", "grant_type must be client_credentials.")
    client_id, client_secret = parameters.get("client_id"), parameters.get("client_secret")
    if (
        not isinstance(client_id, str)
        or not isinstance(client_secret, str)
        or not client_id
        or not client_secret
    ):
        return oauth_error("invalid_request", "client_id and client_secret are required in the request body.")
    application = application_for_credentials(client_id, client_secret)
    if application is None:
        return invalid_client()

    answer_body = issue_app_token(application)
    if faults.loses_token_response():
        return gateway_page(504)
    answer = JsonResponse(answer_body)
    answer["Cache-Control"] = "no-store"
    return answer


def invalid_client() -> JsonResponse:
    # Credentials travel in the body, so no WWW-Authenticate challenge for HTTP Basic.
    answer = JsonResponse(
        {"error": "invalid_client", "error_description": "Invalid client credentials."}, status=401
    )
    answer["Cache-Control"] = "no-store"
    return answer
