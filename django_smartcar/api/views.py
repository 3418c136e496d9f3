"""The API's views: thin adapters over ``services``, scoped to the user.

Commands and refreshes are queued for a Celery worker (202, with the command or refresh to GET for its outcome):
no request waits on a car unless the client opts in with ``?async=0``, which waits at most the client's
time-outs (README, "REST API").

Every object is looked up among the requesting user's own accounts, so another user's vehicle, command or
account is a 404, never a 403 that would confirm it exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django.db import transaction
from django.db.models import Count, Model, Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.authentication import BaseAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.fields import BooleanField
from rest_framework.pagination import BasePagination
from rest_framework.permissions import SAFE_METHODS, AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from .. import client
from ..crypto import EncryptionKeyError
from ..exceptions import InvalidConnectRequest, NotQueued
from ..models import SmartcarAccount, Vehicle, VehicleCommand, VehicleRefresh, VehicleSignal
from ..services import budget, commands, connect, refreshes, vehicles
from ..services.clients import get_redirect_uri
from .errors import SMARTCAR_FAILURES, failure_response, unavailable_response
from .pagination import SmartcarPagination
from .parsers import parser_classes
from .serializers import (
    LARGEST_ID,
    AccountSerializer,
    CommandFilterSerializer,
    CommandSerializer,
    ConnectUrlRequestSerializer,
    ConnectUrlSerializer,
    ErrorSerializer,
    RefreshFilterSerializer,
    RefreshResultSerializer,
    RefreshSerializer,
    VehicleDetailSerializer,
    VehicleFilterSerializer,
    VehicleSerializer,
    VehicleSignalSerializer,
)
from .throttling import SmartcarCommandThrottle

Action = VehicleCommand.Action
# Signals by group, then name and code (the model's order), the pk last so that pages never overlap.
SIGNAL_ORDER = ("group", "name", "code", "pk")

_M = TypeVar("_M", bound=Model)
_Row = TypeVar("_Row")  # what a queryset yields (DRF's stubs keep it generic through filter_queryset)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


# What the schema says each kind of endpoint may answer besides success.
COMMON_ERRORS = {
    401: _error("Not authenticated (with authentication classes that send a challenge)."),
    403: _error("Not authenticated, or not allowed by the project's permission classes."),
    429: _error("Throttled by the project's or the app's rates; see Retry-After."),
}
INVALID_PARAMETERS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid parameters, each with its messages."),
}
NOT_FOUND = {404: _error("Not found among your own objects (or no such page).")}
SMARTCAR_ERRORS = {
    403: _error(
        "The vehicle did not grant the permission this needs (type PERMISSION; reconnect_url says where to "
        "grant it), or the request was not allowed."
    ),
    409: _error(
        "The vehicle's state does not allow it (VEHICLE_STATE, COMPATIBILITY...), or the owner must "
        "reconnect (REAUTHENTICATE, AUTHENTICATION, VEHICLE_DISCONNECTED, an error whose resolution is "
        "REAUTHENTICATE such as CONNECTED_SERVICES_ACCOUNT/AUTHENTICATION_FAILED, or VALIDATION with no code: "
        "Smartcar no longer knows the vehicle under this account; with reconnect_url)."
    ),
    429: _error("Smartcar's rate limit (RATE_LIMIT) or this API's throttling; see Retry-After."),
    502: _error(
        "Smartcar, the car maker or the network failed (SERVER, UPSTREAM, SMARTCAR...), or Smartcar refused "
        "the request as built wrong (RESOURCE_NOT_FOUND, VALIDATION with a code: a bug, logged as an error)."
    ),
    503: _error(
        "The stored tokens cannot be read (a deployment problem: the encryption keys), or the command or refresh could "
        "not be queued (NOT_QUEUED: the task broker is down)."
    ),
}
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    response=[429],
    description="Seconds to wait before trying again, when known.",
)
LOCATION = OpenApiParameter(
    "Location",
    OpenApiTypes.URI,
    OpenApiParameter.HEADER,
    response=[202],
    description="Where to GET the outcome of the queued work.",
)
ASYNC = OpenApiParameter(
    "async",
    OpenApiTypes.BOOL,
    OpenApiParameter.QUERY,
    description="Default true: the work is queued for a Celery worker and answered 202 at once. false (the "
    "opt-in synchronous mode) waits for Smartcar's answer, at most the client's time-outs (see the README).",
)


def wants_async(request: Request) -> bool:
    """The ``async`` flag: true unless the client opts in to waiting with ``?async=0``; any value that is not a
    boolean is a 400."""
    value = request.query_params.get("async")
    if value is None:
        return True
    try:
        return BooleanField().to_internal_value(value)
    except ValidationError as exc:
        raise ValidationError({"async": exc.detail}) from None


# For the type checker the mixin is the APIView it is mixed into (so ``super()`` calls and DRF's attributes are
# checked); at run time it stays a plain mixin ahead of DRF's classes in the MRO.
if TYPE_CHECKING:
    _MixinBase = APIView
else:
    _MixinBase = object


class SmartcarAPIMixin(_MixinBase):
    """The policies every view of this API shares: authentication, pagination, transactions, errors."""

    pagination_class: type[BasePagination] | None

    def __init__(self, **kwargs: Any) -> None:
        # DRF makes a view instance per request, so these are read when the request comes (as the permission
        # classes are), not frozen when this module was imported. Arguments given to as_view() or @action()
        # still win: View.__init__ sets them afterwards.
        # api_settings holds the imported classes; its stubs type the settings as written (dotted paths).
        self.authentication_classes = cast(
            "Sequence[type[BaseAuthentication]]", list(api_settings.DEFAULT_AUTHENTICATION_CLASSES)
        )
        # The project's parsers, with JSON parsing that answers 400 (not 500) to absurdly nested documents.
        self.parser_classes = parser_classes()
        self.pagination_class = (
            cast("type[BasePagination] | None", api_settings.DEFAULT_PAGINATION_CLASS) or SmartcarPagination
        )
        super().__init__(**kwargs)

    def get_permissions(self) -> list[Any]:
        # Never anonymous, whatever the project's defaults; the project's permission classes still apply on top
        # (AllowAny, DRF's default, adds nothing to IsAuthenticated and would only make the schema say otherwise).
        defaults = cast("Sequence[type[BasePermission]]", api_settings.DEFAULT_PERMISSION_CLASSES)
        project_classes = [cls for cls in defaults if cls is not AllowAny]
        return [IsAuthenticated(), *(permission() for permission in project_classes)]

    # None is DRF's own answer when no class has a challenge, although its stubs type the method as returning str.
    def get_authenticate_header(self, request: Request) -> str | None:  # type: ignore[override]
        # DRF asks only the FIRST authentication class for a challenge, so a site listing SessionAuthentication
        # (which has none) before Token or Basic authentication answers anonymous clients 403. The first class
        # that has a challenge makes it a 401 with WWW-Authenticate; 403 stays when none has.
        for authenticator in self.get_authenticators():
            header = authenticator.authenticate_header(request)
            if header:
                return header
        return None

    @method_decorator(transaction.non_atomic_requests)
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # Token refreshes commit in their own transaction (services.tokens refuses to run inside one), so these
        # views opt out of ATOMIC_REQUESTS.
        return super().dispatch(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method not in SAFE_METHODS:
            # Actions such as lock/ take no body, so DRF would never parse it and a malformed one would still
            # lock the car. Parsing it here (once signed in and allowed) makes it a 400 (415 for a media type
            # no parser reads) before anything reaches Smartcar.
            request.data  # noqa: B018

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, SMARTCAR_FAILURES):
            return failure_response(self.request, exc)
        if isinstance(exc, EncryptionKeyError):
            return unavailable_response(self.request, exc)
        return super().handle_exception(exc)


class SmartcarViewSet(SmartcarAPIMixin, viewsets.GenericViewSet[_M]):
    """A viewset of the user's own objects, looked up by integer id."""

    # The one answer for any id that is not one of the user's objects, whether malformed, out of range, unused
    # or someone else's: a client cannot tell these apart, and does not need to.
    not_found_message = "Not found among your own objects."

    def get_object(self) -> _M:
        # An id no database column can hold is simply not found (SQLite would overflow: a 500).
        try:
            in_range = 0 < int(self.kwargs[self.lookup_url_kwarg or self.lookup_field]) <= LARGEST_ID
        except ValueError:
            in_range = False
        if not in_range:
            raise NotFound(self.not_found_message)
        try:
            return super().get_object()
        except Http404:
            # Django's message ("No Vehicle matches the given query.") would differ from the one above.
            raise NotFound(self.not_found_message) from None

    def filter_with(self, serializer_class: type) -> dict[str, Any]:
        """The list's validated filters (a 400 explains any invalid one)."""
        filters = serializer_class(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return {name: value for name, value in filters.validated_data.items() if value is not None}


def command_schema(summary: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "request": None,
        "parameters": [ASYNC, RETRY_AFTER, LOCATION],
        "responses": {
            200: OpenApiResponse(
                CommandSerializer, description="With ?async=0 only: Smartcar confirmed the command."
            ),
            202: OpenApiResponse(
                CommandSerializer, description="Queued (pending); GET its url (or Location) for the outcome."
            ),
            **COMMON_ERRORS,
            **INVALID_PARAMETERS,
            **NOT_FOUND,
            **SMARTCAR_ERRORS,
        },
    }


@extend_schema_view(
    list=extend_schema(
        summary="Your vehicles, with their last known data",
        parameters=[VehicleFilterSerializer, RETRY_AFTER],
        responses={200: VehicleSerializer(many=True), **COMMON_ERRORS, **INVALID_PARAMETERS, **NOT_FOUND},
    ),
    retrieve=extend_schema(
        summary="One of your vehicles, with its last known data, when the car reported it, and its signals",
        parameters=[RETRY_AFTER],
        responses={200: VehicleDetailSerializer, **COMMON_ERRORS, **NOT_FOUND},
    ),
)
class VehicleViewSet(SmartcarViewSet[Vehicle], mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Your vehicles: their last known data (each group with the time the car reported it), and commands.

    Commands and refreshes are queued for a Celery worker and answered 202 at once; ``?async=0`` waits for
    Smartcar's answer instead.
    """

    serializer_class = VehicleSerializer
    # Each of these sends a billed request to Smartcar: throttled per user on top of the project's throttles.
    smartcar_actions = frozenset({"lock", "unlock", "start_charge", "stop_charge", "refresh"})

    def get_queryset(self) -> QuerySet[Vehicle]:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular inspecting the view: no user
            return Vehicle.objects.none()
        queryset = budget.with_usage(
            Vehicle.objects.owned_by(self.request.user)
            .select_related("account", "last_command", "last_refresh")
            .order_by("pk")
        )
        if self.action == "retrieve":
            # One query for all of its signals, however many.
            queryset = queryset.prefetch_related(Prefetch("signals", queryset=VehicleSignal.objects.all()))
        return queryset

    def get_serializer_class(self) -> type[Any]:
        if self.action == "retrieve":
            return VehicleDetailSerializer
        if self.action == "signals":
            return VehicleSignalSerializer
        return VehicleSerializer

    def filter_queryset(self, queryset: QuerySet[Vehicle, _Row]) -> QuerySet[Vehicle, _Row]:
        if self.action != "list":
            return queryset
        filters = self.filter_with(VehicleFilterSerializer)
        if "account" in filters:
            queryset = queryset.filter(account_id=filters["account"])
        if "connected" in filters:
            queryset = queryset.filter(is_connected=filters["connected"])
        return queryset

    def get_throttles(self) -> list[Any]:
        throttles = super().get_throttles()
        if self.action in self.smartcar_actions:
            throttles.append(SmartcarCommandThrottle())
        return throttles

    @extend_schema(
        summary="Every signal the vehicle reported (its latest value, status and times, by code), paginated",
        parameters=[RETRY_AFTER],
        responses={200: VehicleSignalSerializer(many=True), **COMMON_ERRORS, **NOT_FOUND},
    )
    @action(detail=True, methods=["get"])
    def signals(self, request: Request, pk: str | None = None) -> Response:
        vehicle = self.get_object()  # the user's own, else a 404
        rows = VehicleSignal.objects.filter(vehicle=vehicle).order_by(*SIGNAL_ORDER)
        paginator = self.paginator  # the project's, else SmartcarPagination
        page = paginator.paginate_queryset(rows, request, view=self) if paginator else None
        if paginator is None or page is None:  # a paginator that does not paginate this request
            return Response(VehicleSignalSerializer(rows, many=True).data)
        return paginator.get_paginated_response(VehicleSignalSerializer(page, many=True).data)

    @extend_schema(**command_schema("Lock the vehicle (needs control_security)"))
    @action(detail=True, methods=["post"])
    def lock(self, request: Request, pk: str | None = None) -> Response:
        return self._send(request, Action.LOCK)

    @extend_schema(**command_schema("Unlock the vehicle (needs control_security)"))
    @action(detail=True, methods=["post"])
    def unlock(self, request: Request, pk: str | None = None) -> Response:
        return self._send(request, Action.UNLOCK)

    @extend_schema(**command_schema("Start charging (needs control_charge)"))
    @action(detail=True, methods=["post"], url_path="start-charge", url_name="start-charge")
    def start_charge(self, request: Request, pk: str | None = None) -> Response:
        return self._send(request, Action.START_CHARGE)

    @extend_schema(**command_schema("Stop charging (needs control_charge)"))
    @action(detail=True, methods=["post"], url_path="stop-charge", url_name="stop-charge")
    def stop_charge(self, request: Request, pk: str | None = None) -> Response:
        return self._send(request, Action.STOP_CHARGE)

    @extend_schema(
        summary="Read every permitted data point from the car (one Smartcar batch request), in the background",
        request=None,
        parameters=[ASYNC, RETRY_AFTER, LOCATION],
        responses={
            200: OpenApiResponse(
                RefreshResultSerializer,
                description="With ?async=0 only: the vehicle as now stored, and what could not be read.",
            ),
            202: OpenApiResponse(
                RefreshSerializer, description="Queued (pending); GET its url (or Location) for the outcome."
            ),
            **COMMON_ERRORS,
            **INVALID_PARAMETERS,
            **NOT_FOUND,
            **SMARTCAR_ERRORS,
        },
    )
    @action(detail=True, methods=["post"])
    def refresh(self, request: Request, pk: str | None = None) -> Response:
        vehicle = self.get_object()
        if wants_async(request):
            return self._queue_refresh(request, vehicle)
        # ?async=0: the request waits for Smartcar, at most the client's time-outs.
        try:
            result = vehicles.refresh_vehicle_data(vehicle, kind=budget.USER)
        except client.SmartcarException as refused:
            # Named with the car's make: a car maker account issue says whose account the owner must fix.
            return failure_response(request, commands.describe_failure(refused, make=vehicle.display_make))
        if result.failed:
            # Nothing could be read: Smartcar's first error says why better than a 200 with no news.
            first = next(iter(result.errors.values()))
            return failure_response(request, commands.describe_failure(first, make=vehicle.display_make))
        answer = {
            "vehicle": vehicle,
            "updated": result.updated,
            "errors": refreshes.describe_errors(result, make=vehicle.display_make),
            "not_capable": result.not_capable,
        }
        return Response(RefreshResultSerializer(answer, context=self.get_serializer_context()).data)

    def _queue_refresh(self, request: Request, vehicle: Vehicle) -> Response:
        context = self.get_serializer_context()
        try:
            refresh = refreshes.queue_refresh(vehicle, user=request.user)
        except NotQueued as exc:
            failed = RefreshSerializer(exc.refresh, context=context).data if exc.refresh else None
            return failure_response(request, exc, refresh=failed)
        # Like a queued command, the answer is the pending refresh; GET its url (the Location) for the outcome.
        queued = RefreshSerializer(refresh, context=context).data
        return Response(queued, status=202, headers={"Location": str(queued["url"])})

    def _send(self, request: Request, command_action: VehicleCommand.Action) -> Response:
        vehicle = self.get_object()
        context = self.get_serializer_context()
        if wants_async(request):
            # Refusals and a dead broker are raised now rather than met by the worker: the client hears them here.
            try:
                command = commands.queue_command(vehicle, command_action, user=request.user)
            except NotQueued as exc:
                failed = CommandSerializer(exc.command, context=context).data
                return failure_response(request, exc, command=failed)
            queued = CommandSerializer(command, context=context).data
            # str(): the serialized url is a Hyperlink, which WSGI servers refuse in a header.
            return Response(queued, status=202, headers={"Location": str(queued["url"])})
        # ?async=0: the request waits for Smartcar, at most the client's time-outs.
        command = commands.send_command(vehicle, command_action, user=request.user)
        sent = CommandSerializer(command, context=context).data
        if command.status == VehicleCommand.Status.SUCCEEDED:
            return Response(sent)
        return failure_response(request, commands.Failure.from_command(command), command=sent)


@extend_schema_view(
    list=extend_schema(
        summary="Commands sent to your vehicles, newest first",
        parameters=[CommandFilterSerializer, RETRY_AFTER],
        responses={200: CommandSerializer(many=True), **COMMON_ERRORS, **INVALID_PARAMETERS, **NOT_FOUND},
    ),
    retrieve=extend_schema(
        summary="A command's status (pending, succeeded or failed, with Smartcar's error)",
        parameters=[RETRY_AFTER],
        responses={200: CommandSerializer, **COMMON_ERRORS, **NOT_FOUND},
    ),
)
class CommandViewSet(SmartcarViewSet[VehicleCommand], mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Commands sent to your vehicles, through this API or otherwise, each with its outcome."""

    serializer_class = CommandSerializer

    def get_queryset(self) -> QuerySet[VehicleCommand]:
        user = self.request.user
        # drf-spectacular inspecting the view has no user; IsAuthenticated lets nobody else in anonymously.
        if getattr(self, "swagger_fake_view", False) or not user.is_authenticated:
            return VehicleCommand.objects.none()
        return VehicleCommand.objects.filter(vehicle__account__owner=user).order_by("-requested_at", "-pk")

    def filter_queryset(self, queryset: QuerySet[VehicleCommand, _Row]) -> QuerySet[VehicleCommand, _Row]:
        if self.action != "list":
            return queryset
        filters = self.filter_with(CommandFilterSerializer)
        if "vehicle" in filters:
            queryset = queryset.filter(vehicle_id=filters["vehicle"])
        return queryset


@extend_schema_view(
    list=extend_schema(
        summary="Refreshes of your vehicles' data asked for through this API or the site, newest first",
        parameters=[RefreshFilterSerializer, RETRY_AFTER],
        responses={200: RefreshSerializer(many=True), **COMMON_ERRORS, **INVALID_PARAMETERS, **NOT_FOUND},
    ),
    retrieve=extend_schema(
        summary="A refresh's status (pending, succeeded or failed) and what it read",
        parameters=[RETRY_AFTER],
        responses={200: RefreshSerializer, **COMMON_ERRORS, **NOT_FOUND},
    ),
)
class RefreshViewSet(SmartcarViewSet[VehicleRefresh], mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Refreshes queued for your vehicles, each pending until a worker records what it read."""

    serializer_class = RefreshSerializer

    def get_queryset(self) -> QuerySet[VehicleRefresh]:
        user = self.request.user
        # drf-spectacular inspecting the view has no user; IsAuthenticated lets nobody else in anonymously.
        if getattr(self, "swagger_fake_view", False) or not user.is_authenticated:
            return VehicleRefresh.objects.none()
        return VehicleRefresh.objects.filter(vehicle__account__owner=user).order_by("-requested_at", "-pk")

    def filter_queryset(self, queryset: QuerySet[VehicleRefresh, _Row]) -> QuerySet[VehicleRefresh, _Row]:
        if self.action != "list":
            return queryset
        filters = self.filter_with(RefreshFilterSerializer)
        if "vehicle" in filters:
            queryset = queryset.filter(vehicle_id=filters["vehicle"])
        return queryset


@extend_schema_view(
    list=extend_schema(
        summary="Your Smartcar accounts (connections)",
        parameters=[RETRY_AFTER],
        responses={200: AccountSerializer(many=True), **COMMON_ERRORS, **NOT_FOUND},
    ),
    retrieve=extend_schema(
        summary="One of your Smartcar accounts",
        parameters=[RETRY_AFTER],
        responses={200: AccountSerializer, **COMMON_ERRORS, **NOT_FOUND},
    ),
    destroy=extend_schema(
        summary="Disconnect the account: revoke every vehicle at Smartcar and forget its tokens",
        parameters=[RETRY_AFTER],
        responses={
            204: OpenApiResponse(description="Disconnected."),
            **COMMON_ERRORS,
            **NOT_FOUND,
            **SMARTCAR_ERRORS,
        },
    ),
)
class AccountViewSet(
    SmartcarViewSet[SmartcarAccount],
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
):
    """Your Smartcar accounts (one per Smartcar user you connected); deleting one disconnects it."""

    serializer_class = AccountSerializer

    def get_queryset(self) -> QuerySet[SmartcarAccount]:
        user = self.request.user
        # drf-spectacular inspecting the view has no user; IsAuthenticated lets nobody else in anonymously.
        if getattr(self, "swagger_fake_view", False) or not user.is_authenticated:
            return SmartcarAccount.objects.none()
        return (
            SmartcarAccount.objects.filter(owner=user)
            .annotate(connected_vehicles=Count("vehicles", filter=Q(vehicles__is_connected=True)))
            .order_by("pk")
        )

    def perform_destroy(self, instance: SmartcarAccount) -> None:
        connect.disconnect_account(instance)


class ConnectUrlView(SmartcarAPIMixin, APIView):
    """For app clients that open Connect themselves: the URL and its single-use state.

    The state is bound to the user (not to a browser session), so the app's callback view accepts it when
    that same user, signed in, is sent back to it.
    """

    @extend_schema(
        summary="A Smartcar Connect URL (and its state) for the signed-in user",
        request=ConnectUrlRequestSerializer,
        parameters=[RETRY_AFTER],
        responses={200: ConnectUrlSerializer, **COMMON_ERRORS, **INVALID_PARAMETERS},
    )
    def post(self, request: Request) -> Response:
        options = ConnectUrlRequestSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        chosen = options.validated_data
        try:
            url, state = connect.start_connect(
                request.user,
                redirect_uri=get_redirect_uri(request),
                next_url=connect.safe_next_url(request, chosen.get("next")),
                make=chosen.get("make") or None,
                single_select=chosen.get("single_select"),
                single_select_vin=chosen.get("single_select_vin") or None,
                force=chosen.get("force", False),
            )
        except InvalidConnectRequest as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(ConnectUrlSerializer({"url": url, "state": state}).data)
