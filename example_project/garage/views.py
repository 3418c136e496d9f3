"""The garage: the signed-in user's Smartcar accounts and cars, as thin adapters over django-smartcar's services.

Every rule (tokens, permissions, what a command or a refresh does) lives in ``django_smartcar.services``; these
views only pick the user's own rows, call a service and say what happened.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from django_smartcar.exceptions import DjangoSmartcarError, NotQueued
from django_smartcar.models import SmartcarAccount, Vehicle, VehicleCommand, VehicleRefresh
from django_smartcar.services import commands, refreshes, signals

from .demo import DEMO_DRIVER_EMAIL, DEMO_PASSWORD, DEMO_USERNAME, simulator_installed

# How often the dashboard reloads itself while a command or a refresh is pending.
PENDING_RELOAD_SECONDS = 2


class SignInView(LoginView):
    template_name = "garage/sign_in.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if simulator_installed():
            # Only the demo, where the simulator stands in for Smartcar, has these well-known credentials.
            context["demo"] = {
                "username": DEMO_USERNAME,
                "password": DEMO_PASSWORD,
                "driver_email": DEMO_DRIVER_EMAIL,
            }
        return context


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``, which browsers ask for on pages that name no icon (the admin, the API docs)."""
    return HttpResponseRedirect(static("garage/favicon.svg"))


@require_safe
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    # account.vehicles.all holds the connected cars only, which SmartcarAccount.display_name also reads.
    connected_vehicles = Prefetch(
        "vehicles",
        queryset=Vehicle.objects.connected()
        .select_related("last_command", "last_refresh")
        .prefetch_related("signals")  # every car's signals in one query
        .order_by("make", "model", "pk"),
    )
    accounts = list(
        SmartcarAccount.objects.filter(owner=request.user)
        .select_related("owner")
        .exclude(status=SmartcarAccount.Status.DISCONNECTED)
        .order_by("connected_at", "pk")
        .prefetch_related(connected_vehicles)
    )
    for account in accounts:
        for vehicle in account.vehicles.all():
            for signal in vehicle.signals.all():
                signal.value_text = signals.describe_value(signal.body)  # type: ignore[attr-defined]
    # While a worker has a command or a refresh to run, the page reloads itself (<meta refresh>, no
    # JavaScript needed) until every outcome is recorded.
    pending = any(
        (vehicle.last_command and vehicle.last_command.status == VehicleCommand.Status.PENDING)
        or (vehicle.last_refresh and vehicle.last_refresh.status == VehicleRefresh.Status.PENDING)
        for account in accounts
        for vehicle in account.vehicles.all()
    )
    return render(
        request,
        "garage/dashboard.html",
        {"accounts": accounts, "reload_after": PENDING_RELOAD_SECONDS if pending else None},
    )


def _own_vehicle(request: HttpRequest, pk: int) -> Vehicle:
    # Someone else's car, or one no longer connected, is a 404: its existence is not revealed.
    return get_object_or_404(
        Vehicle.objects.connected().select_related("account"), pk=pk, account__owner=request.user
    )


def _back_to(vehicle: Vehicle) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"{reverse('garage:dashboard')}#vehicle-{vehicle.pk}")


# No page waits on a car: commands and refreshes are queued for the Celery worker, and the dashboard shows them
# pending ("Locking...") until the worker records the outcome. Token refreshes commit in their own transaction,
# which ATOMIC_REQUESTS would forbid.
@transaction.non_atomic_requests
@require_POST
@login_required
def send_vehicle_command(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    vehicle = _own_vehicle(request, pk)
    name = VehicleCommand.Action(action).label
    try:
        commands.queue_command(vehicle, action, user=request.user)
    except NotQueued:
        messages.error(request, f"{vehicle}: {name} could not be queued; nothing was sent. Please try again.")
    except DjangoSmartcarError as exc:
        messages.error(request, f"{vehicle}: {name} refused. {exc}")
    else:
        messages.success(request, f"{vehicle}: {name} queued.")
    return _back_to(vehicle)


@transaction.non_atomic_requests
@require_POST
@login_required
def refresh_vehicle(request: HttpRequest, pk: int) -> HttpResponse:
    vehicle = _own_vehicle(request, pk)
    try:
        refreshes.queue_refresh(vehicle, user=request.user)
    except NotQueued:
        messages.error(
            request, f"{vehicle}: the refresh could not be queued; nothing was sent. Please try again."
        )
    except DjangoSmartcarError as exc:
        messages.error(request, f"{vehicle}: could not refresh its data. {exc}")
    else:
        messages.success(request, f"{vehicle}: Refresh queued.")
    return _back_to(vehicle)
