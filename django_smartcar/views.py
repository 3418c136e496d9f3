"""Connect, callback and disconnect views: thin adapters over ``services``.

The callback and disconnect views opt out of ``ATOMIC_REQUESTS``: token storage commits in its own transaction
(see services.tokens), which a request-wide transaction would forbid.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import client
from .conf import smartcar_settings
from .exceptions import DjangoSmartcarError, InvalidConnectRequest, InvalidConnectState
from .models import SmartcarAccount, Vehicle
from .services import connect as connect_service
from .services import webhooks as webhook_service
from .services.clients import get_redirect_uri

logger = logging.getLogger(__name__)

_TRUE = {"1", "true", "yes", "on"}


@require_GET
@login_required
def connections(request: HttpRequest) -> HttpResponse:
    """The signed-in user's Smartcar accounts and vehicles, with Connect and Disconnect links: the default
    landing page after Connect (CONNECT_SUCCESS_URL), so the callback's success message is always shown."""
    accounts = (
        SmartcarAccount.objects.filter(owner_id=request.user.pk)  # signed in: login_required
        .exclude(status=SmartcarAccount.Status.DISCONNECTED)
        .prefetch_related(
            Prefetch("vehicles", queryset=Vehicle.objects.connected().order_by("make", "model", "pk"))
        )
        .order_by("pk")
    )
    return render(request, "django_smartcar/connections.html", {"accounts": accounts})


def _failure(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    return render(request, "django_smartcar/connect_failed.html", {"message": message}, status=status)


@require_GET
@login_required
def connect(request: HttpRequest) -> HttpResponse:
    """Send the signed-in user to Smartcar Connect with a fresh single-use state."""
    if not request.session.session_key:
        request.session.save()
    single_select = request.GET.get("single_select")
    try:
        url, _state = connect_service.start_connect(
            request.user,
            redirect_uri=get_redirect_uri(request),
            session_key=request.session.session_key,
            next_url=connect_service.safe_next_url(request, request.GET.get("next")),
            make=request.GET.get("make") or None,
            single_select=(single_select.lower() in _TRUE) if single_select else None,
            single_select_vin=request.GET.get("single_select_vin") or None,
            force=(request.GET.get("force") or "").lower() in _TRUE,
        )
    except InvalidConnectRequest as exc:
        return _failure(request, str(exc))
    return HttpResponseRedirect(url)


@transaction.non_atomic_requests
@require_GET
@login_required
def callback(request: HttpRequest) -> HttpResponse:
    """Where Smartcar Connect sends the user back: check the state, then create or update the account."""
    try:
        state = connect_service.consume_state(
            request.GET.get("state"), user=request.user, session_key=request.session.session_key
        )
    except InvalidConnectState as exc:
        return _failure(request, str(exc))

    if request.GET.get("error"):
        failure = connect_service.describe_connect_error(request.GET)
        context = {"message": failure.message}
        if failure.ended_normally:
            context["next_url"] = state.next_url or connect_service.success_url()
        return render(request, "django_smartcar/connect_failed.html", context, status=failure.status)

    vehicle_id = request.GET.get("vehicle_id")
    if vehicle_id and not request.GET.get("code"):
        # Back from re-authentication: no code, the vehicle's connection and tokens carry on.
        try:
            connect_service.complete_reauthentication(request.user, vehicle_id[:100])
        except InvalidConnectRequest as exc:
            return _failure(request, str(exc))
        messages.success(request, "You signed in to your car maker again; the connection works again.")
        return HttpResponseRedirect(connect_service.safe_next_url(request, state.next_url))

    try:
        account = connect_service.complete_connect(
            request.user, request.GET, redirect_uri=get_redirect_uri(request), started_at=state.created_at
        )
    except InvalidConnectRequest as exc:
        # The redirect cannot complete (no code, no user id, or one Smartcar does not confirm): the request's fault.
        return _failure(request, str(exc))
    except client.InvalidGrantException:
        # The code itself was refused (expired, used already, or made up): the request's fault, not Smartcar's.
        return _failure(
            request, "Smartcar refused this authorization code (expired or already used). Please start again."
        )
    except client.SmartcarException as exc:
        logger.warning("Completing Smartcar Connect for user %s failed: %s", request.user.pk, exc)
        return _failure(request, "Smartcar could not complete the connection. Please try again.", status=502)
    except DjangoSmartcarError as exc:
        # E.g. no usable encryption key: a deployment problem (see `manage.py check`), not the user's.
        logger.error("Completing Smartcar Connect for user %s failed: %s", request.user.pk, exc)
        return _failure(
            request, "Connecting vehicles is unavailable right now. Please try again later.", status=503
        )

    count = account.vehicles.filter(is_connected=True).count()
    messages.success(request, f"Connected {count} vehicle{'s' if count != 1 else ''} through Smartcar.")
    return HttpResponseRedirect(connect_service.safe_next_url(request, state.next_url))


@require_GET
@login_required
def reauthenticate(request: HttpRequest, pk: int) -> HttpResponse:
    """Send the owner to Connect's re-authentication for one of their vehicles (state as for ``connect``)."""
    vehicle = get_object_or_404(
        Vehicle.objects.select_related("account"), pk=pk, account__owner=request.user, is_connected=True
    )
    if not request.session.session_key:
        request.session.save()
    url, _state = connect_service.start_reauthentication(
        request.user,
        vehicle,
        redirect_uri=get_redirect_uri(request),
        session_key=request.session.session_key,
        next_url=connect_service.safe_next_url(request, request.GET.get("next")),
    )
    return HttpResponseRedirect(url)


def _confirm_disconnect(request: HttpRequest, question: str, consequence: str) -> HttpResponse:
    """The page a GET shows: disconnecting is not undone by a click, so a link alone never does it."""
    return render(
        request,
        "django_smartcar/confirm_disconnect.html",
        {
            "question": question,
            "consequence": consequence,
            "next_url": connect_service.safe_next_url(request, request.GET.get("next")),
        },
    )


@transaction.non_atomic_requests
@require_http_methods(["GET", "POST"])
@login_required
def disconnect_account(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST (the confirmation form, with its CSRF token) disconnects."""
    account = get_object_or_404(SmartcarAccount.objects.select_related("owner"), pk=pk, owner=request.user)
    if request.method == "GET":
        return _confirm_disconnect(
            request,
            "Disconnect your Smartcar account?",
            "Every vehicle connected through it is disconnected and this site can no longer reach them.",
        )
    try:
        connect_service.disconnect_account(account)
    except (client.SmartcarException, DjangoSmartcarError) as exc:
        messages.error(request, f"Could not disconnect: {exc}")
    else:
        messages.success(request, "Smartcar account disconnected.")
    return HttpResponseRedirect(connect_service.safe_next_url(request, request.POST.get("next")))


@transaction.non_atomic_requests
@require_http_methods(["GET", "POST"])
@login_required
def disconnect_vehicle(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST (the confirmation form, with its CSRF token) disconnects."""
    vehicle = get_object_or_404(Vehicle.objects.select_related("account"), pk=pk, account__owner=request.user)
    if request.method == "GET":
        return _confirm_disconnect(
            request, f"Disconnect {vehicle}?", "This site can no longer reach it until you connect it again."
        )
    try:
        connect_service.disconnect_vehicle(vehicle)
    except (client.SmartcarException, DjangoSmartcarError) as exc:
        messages.error(request, f"Could not disconnect {vehicle}: {exc}")
    else:
        messages.success(request, f"{vehicle} disconnected.")
    return HttpResponseRedirect(connect_service.safe_next_url(request, request.POST.get("next")))


@csrf_exempt  # Smartcar signs its deliveries (SC-Signature); there is no browser session to protect here.
@transaction.non_atomic_requests  # one INSERT in autocommit is the fast path (services.webhooks.receive)
@require_POST
def webhook(request: HttpRequest, url_id: str) -> HttpResponse:
    """Smartcar's webhook deliveries: verified and stored here in milliseconds (one INSERT, no broker round
    trip), processed by Celery's ``dispatch_webhook_events`` beat task."""
    limit = int(smartcar_settings.WEBHOOK_MAX_BODY_BYTES)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return JsonResponse({"error": "Invalid Content-Length."}, status=400)
    if declared > limit:
        return JsonResponse({"error": f"The body is larger than {limit} bytes."}, status=413)
    body = request.body
    if len(body) > limit:
        return JsonResponse({"error": f"The body is larger than {limit} bytes."}, status=413)
    try:
        receipt = webhook_service.receive(url_id, body, request.headers)
    except webhook_service.WebhookRejected as exc:
        return JsonResponse({"error": exc.message}, status=exc.status)
    # Stored by the service (and queued too, with WEBHOOK_DISPATCH_INTERVAL None).
    return JsonResponse(receipt.answer)
