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

from django_smartcar import client
from django_smartcar.exceptions import DjangoSmartcarError
from django_smartcar.models import SmartcarAccount, Vehicle, VehicleCommand
from django_smartcar.services import commands
from django_smartcar.services import vehicles as vehicle_data

from .demo import DEMO_DRIVER_EMAIL, DEMO_PASSWORD, DEMO_USERNAME, simulator_installed


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
    latest_command = Prefetch(
        "commands", queryset=VehicleCommand.objects.order_by("-requested_at")[:1], to_attr="latest_commands"
    )
    # account.vehicles.all holds the connected cars only, which SmartcarAccount.display_name also reads.
    connected_vehicles = Prefetch(
        "vehicles",
        queryset=Vehicle.objects.connected().order_by("make", "model", "pk").prefetch_related(latest_command),
    )
    accounts = (
        SmartcarAccount.objects.filter(owner=request.user)
        .select_related("owner")
        .exclude(status=SmartcarAccount.Status.DISCONNECTED)
        .order_by("connected_at", "pk")
        .prefetch_related(connected_vehicles)
    )
    return render(request, "garage/dashboard.html", {"accounts": accounts})


def _own_vehicle(request: HttpRequest, pk: int) -> Vehicle:
    # Someone else's car, or one no longer connected, is a 404: its existence is not revealed.
    return get_object_or_404(
        Vehicle.objects.connected().select_related("account"), pk=pk, account__owner=request.user
    )


def _back_to(vehicle: Vehicle) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"{reverse('garage:dashboard')}#vehicle-{vehicle.pk}")


# Token refreshes commit in their own transaction, which ATOMIC_REQUESTS would forbid.
@transaction.non_atomic_requests
@require_POST
@login_required
def send_vehicle_command(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    vehicle = _own_vehicle(request, pk)
    command = commands.send_command(vehicle, action, user=request.user)
    if command.status == VehicleCommand.Status.SUCCEEDED:
        # What the car confirmed; the data shown stays as last read from the car until the next refresh.
        messages.success(request, f"{vehicle}: {command.get_action_display().lower()} succeeded.")
    else:
        messages.error(request, f"{vehicle}: {command.get_action_display()} failed. {command.error_message}")
    return _back_to(vehicle)


@transaction.non_atomic_requests
@require_POST
@login_required
def refresh_vehicle(request: HttpRequest, pk: int) -> HttpResponse:
    vehicle = _own_vehicle(request, pk)
    try:
        result = vehicle_data.refresh_vehicle_data(vehicle)
    except (client.SmartcarException, DjangoSmartcarError) as exc:
        # For the owner: what to do at their car maker, or Smartcar's suggested message, when there is one.
        reason = commands.describe_failure(exc, make=vehicle.display_make).message
        messages.error(request, f"{vehicle}: could not refresh its data. {reason}")
        return _back_to(vehicle)
    # What the car cannot give (a fuel car's battery) is no failure: the service remembers it and asks no more.
    if result.failed:
        suggested = f" {result.suggested_user_message}" if result.suggested_user_message else ""
        messages.error(request, f"{vehicle}: could not read {result.describe_failures()}.{suggested}")
        return _back_to(vehicle)
    if result.updated:
        messages.success(request, f"{vehicle}: refreshed {', '.join(result.updated)}.")
    else:
        messages.info(request, f"{vehicle}: the car has nothing newer to report.")
    if result.errors:
        messages.warning(request, f"{vehicle}: could not read {result.describe_failures()}.")
    return _back_to(vehicle)
