"""Fault injection: make the simulator fail the way Smartcar does, on purpose and reproducibly.

Faults come from the database (``inject()``, the control API) and from settings, read at every request::

    SMARTCAR_SIMULATOR = {
        "LATENCY": {"model": "smartcar", "scale": 0.01, "seed": 0},  # Smartcar's latency, time-scaled
        "LATENCY_MS": 50,  # added to every answer
        "FAULTS": [{"kind": "server_errors", "fraction": 0.2, "statuses": [502, 504], "seed": 1}],
    }

Kinds:

* ``rate_limit``: 429 RATE_LIMIT with ``Retry-After: retry_after``.
* ``server_errors``: requests fail with one of ``statuses``: 500 answers a v2 SERVER body, 502 a v2 UPSTREAM
  body, 503 and 504 a gateway's HTML page.
* ``latency``: answers wait ``latency_ms`` first (longer than the client's time-out, it makes time-outs).
* ``asleep``: vehicle calls answer 409 VEHICLE_STATE/ASLEEP (in a batch, every item does).
* ``connected_services_account``: vehicle calls answer 400 CONNECTED_SERVICES_ACCOUNT with ``code`` (default
  ACCOUNT_ISSUE; any of ``errors.CONNECTED_SERVICES_ACCOUNT_ERRORS``), the documented resolution and docURL.
* ``lose_token_response``: the token endpoint commits the new tokens (a refresh token is rotated, a code is
  used up) and then answers 504 with a gateway's HTML page, as when a proxy times out after the work was done.

A fault is global, or limited to one vehicle; ``target`` picks the vehicle API (default), the token endpoint
or both. ``fraction`` (default 1: every request) makes a rate limit, server errors or latency hit only that
share of requests; ``remaining`` limits a fault to that many hits. Which requests a ``fraction`` hits is decided
by ``random.Random(f"{seed}:{n}")`` for the fault's n-th draw, so a seeded run fails the same requests each time.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.http import HttpResponse

from . import errors, latency
from .models import Fault, FaultKind, FaultTarget, SimulatedVehicle

DEFAULT_STATUSES = (500, 502, 504)
SUPPORTED_STATUSES = frozenset({500, 502, 503, 504})
VEHICLE_KINDS = frozenset({FaultKind.ASLEEP, FaultKind.CONNECTED_SERVICES_ACCOUNT})

# Settings faults are not rows, so their draws are counted per process.
_settings_draws: dict[str, itertools.count[int]] = {}
_settings_draws_lock = threading.Lock()


def inject(
    kind: str,
    *,
    vehicle: SimulatedVehicle | str | None = None,
    target: str = FaultTarget.API,
    retry_after: int = 1,
    fraction: float = 1.0,
    statuses: Iterable[int] = DEFAULT_STATUSES,
    latency_ms: int = 0,
    seed: int = 0,
    remaining: int | None = None,
    code: str | None = None,
) -> Fault:
    """Switch a fault on (for one vehicle, or globally when ``vehicle`` is None) until ``clear()``."""
    fault = build(
        kind=kind,
        vehicle_id=vehicle.pk if isinstance(vehicle, SimulatedVehicle) else vehicle,
        target=target,
        retry_after=retry_after,
        fraction=fraction,
        statuses=list(statuses),
        latency_ms=latency_ms,
        seed=seed,
        remaining=remaining,
        code=code,
    )
    fault.save()
    return fault


def build(**fields: Any) -> Fault:
    """An unsaved, validated fault; ValueError explains what is wrong."""
    kind = fields.get("kind")
    if kind not in FaultKind.values:
        raise ValueError(f"kind must be one of {', '.join(FaultKind.values)}")
    if fields.get("target", FaultTarget.API) not in FaultTarget.values:
        raise ValueError(f"target must be one of {', '.join(FaultTarget.values)}")
    fraction = fields.get("fraction", 1.0)
    if not isinstance(fraction, int | float) or isinstance(fraction, bool) or not 0 <= fraction <= 1:
        raise ValueError("fraction must be a number between 0 and 1")
    statuses = fields.get("statuses") or list(DEFAULT_STATUSES)
    if not isinstance(statuses, list | tuple) or not set(statuses) <= SUPPORTED_STATUSES:
        raise ValueError(f"statuses must be a list taken from {sorted(SUPPORTED_STATUSES)}")
    statuses = list(statuses)
    fields["statuses"] = statuses
    if kind == FaultKind.LOSE_TOKEN_RESPONSE:
        # Only the token endpoint has a response worth losing.
        fields["target"] = FaultTarget.TOKEN
    for name in ("retry_after", "latency_ms", "seed", "remaining"):
        value = fields.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ValueError(f"{name} must be a non-negative integer")
    vehicle_id = fields.get("vehicle_id")
    if vehicle_id is not None and not SimulatedVehicle.objects.filter(pk=vehicle_id).exists():
        raise ValueError(f"unknown vehicle {vehicle_id!r}")
    code = fields.get("code")
    if kind == FaultKind.CONNECTED_SERVICES_ACCOUNT:
        fields["code"] = code = code or "ACCOUNT_ISSUE"
        if code not in errors.CONNECTED_SERVICES_ACCOUNT_ERRORS:
            raise ValueError(f"code must be one of {', '.join(errors.CONNECTED_SERVICES_ACCOUNT_ERRORS)}")
    elif code:
        raise ValueError(f"code applies to connected_services_account faults, not to {kind}")
    if kind in VEHICLE_KINDS and fields.get("target", FaultTarget.API) == FaultTarget.TOKEN:
        raise ValueError(f"{kind} applies to vehicle calls, not to the token endpoint")
    return Fault(**{name: value for name, value in fields.items() if value is not None})


def clear(vehicle: SimulatedVehicle | str | None = None) -> int:
    """Switch off every database fault (or only one vehicle's); returns how many were removed."""
    faults = Fault.objects.all()
    if vehicle is not None:
        faults = faults.filter(vehicle_id=vehicle.pk if isinstance(vehicle, SimulatedVehicle) else vehicle)
    deleted, _ = faults.delete()
    return deleted


def simulator_settings() -> dict[str, Any]:
    """``settings.SMARTCAR_SIMULATOR`` (empty when unset): the one accessor every simulator module reads it by."""
    return getattr(settings, "SMARTCAR_SIMULATOR", None) or {}


def positive_setting(value: Any, name: str) -> float:
    """A ``SMARTCAR_SIMULATOR`` number that must be positive (not a bool); ValueError names the setting."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"SMARTCAR_SIMULATOR {name} must be a positive number")
    return float(value)


def settings_faults() -> list[Fault]:
    return [build(**dict(spec)) for spec in simulator_settings().get("FAULTS", [])]


_request_faults = threading.local()


@contextmanager
def read_once_per_request() -> Iterator[None]:
    """Read the fault table once for the request handled inside the block, not once per kind of fault.

    The token endpoint asks about five kinds (latency, rate limit, account, server errors, a lost answer):
    one query instead of five keeps the simulator's own cost per request small beside the client's under
    load (benchmark 1 rotates 2,000 accounts on the same cores). The request sees the faults as they were when
    it arrived; ``remaining`` and draws are still counted in the database, hit by hit."""
    _request_faults.rows = list(Fault.objects.all())
    try:
        yield
    finally:
        del _request_faults.rows


def active(kind: str, *, target: str, vehicle_id: str | None) -> list[Fault]:
    """The faults of ``kind`` that apply to a request to ``target`` (about ``vehicle_id``, if any)."""
    wanted_targets = (target, FaultTarget.ANY)
    rows: list[Fault] | None = getattr(_request_faults, "rows", None)
    if rows is not None:
        stored = [
            fault
            for fault in rows
            if fault.kind == kind
            and fault.target in wanted_targets
            and (fault.vehicle_id is None or (vehicle_id and str(fault.vehicle_id) == str(vehicle_id)))
        ]
    else:
        vehicles = (
            Q(vehicle__isnull=True) | Q(vehicle_id=vehicle_id) if vehicle_id else Q(vehicle__isnull=True)
        )
        stored = list(Fault.objects.filter(vehicles, kind=kind, target__in=wanted_targets))
    configured = [
        fault
        for fault in settings_faults()
        if fault.kind == kind and fault.target in wanted_targets and fault.vehicle_id in (None, vehicle_id)
    ]
    return stored + configured


def take(fault: Fault) -> bool:
    """Count one hit against ``remaining``; False once the fault is used up."""
    if fault.pk is None or fault.remaining is None:
        return True
    return bool(Fault.objects.filter(pk=fault.pk, remaining__gt=0).update(remaining=F("remaining") - 1))


def next_draw(fault: Fault) -> random.Random:
    """The generator for this fault's next decision (deterministic from its seed and draw number)."""
    if fault.pk is None:
        key = repr(
            sorted((name, str(getattr(fault, name))) for name in ("kind", "vehicle_id", "target", "seed"))
        )
        with _settings_draws_lock:
            number = next(_settings_draws.setdefault(key, itertools.count()))
    else:
        with transaction.atomic():
            # Count the draw before reading it, so concurrent requests each get their own number.
            Fault.objects.filter(pk=fault.pk).update(draws=F("draws") + 1)
            number = Fault.objects.values_list("draws", flat=True).get(pk=fault.pk) - 1
    return random.Random(f"{fault.seed}:{number}")


def hits(fault: Fault) -> bool:
    """Whether this request is among the ``fraction`` the fault hits (and within its ``remaining``)."""
    if fault.fraction < 1 and next_draw(fault).random() >= fault.fraction:
        return False
    return take(fault)


def latency_seconds(*, target: str, vehicle_id: str | None, endpoint: str | None = None) -> float:
    """The latency model's delay for this class of ``endpoint`` (see ``latency``), plus ``LATENCY_MS`` and
    any ``latency`` faults."""
    if endpoint is None:
        endpoint = latency.TOKEN if target == FaultTarget.TOKEN else latency.PLATFORM
    milliseconds = int(simulator_settings().get("LATENCY_MS", 0) or 0)
    milliseconds += sum(
        fault.latency_ms
        for fault in active(FaultKind.LATENCY, target=target, vehicle_id=vehicle_id)
        if hits(fault)
    )
    return latency.delay(endpoint) + milliseconds / 1000


def failure_for(
    *, target: str, vehicle_id: str | None, endpoint: str | None = None
) -> errors.ApiError | HttpResponse | None:
    """Sleep any latency, then the forced failure for this request (an error to raise or a page), if any.
    ``endpoint`` is the request's class in the latency model (default: the token endpoint's or Smartcar's own)."""
    delay = latency_seconds(target=target, vehicle_id=vehicle_id, endpoint=endpoint)
    if delay:
        time.sleep(delay)
    return injected_failure(target=target, vehicle_id=vehicle_id)


def injected_failure(*, target: str, vehicle_id: str | None) -> errors.ApiError | HttpResponse | None:
    """The forced failure for this request (an error to raise or a page), if any, without latency."""
    for fault in active(FaultKind.RATE_LIMIT, target=target, vehicle_id=vehicle_id):
        if hits(fault):
            return errors.rate_limit_error(fault.retry_after, per_vehicle=fault.vehicle_id is not None)
    for fault in active(FaultKind.CONNECTED_SERVICES_ACCOUNT, target=target, vehicle_id=vehicle_id):
        if hits(fault):
            return errors.connected_services_account_error(fault.code or "ACCOUNT_ISSUE")
    for fault in active(FaultKind.SERVER_ERRORS, target=target, vehicle_id=vehicle_id):
        draw = next_draw(fault)
        if draw.random() < fault.fraction and take(fault):
            status = draw.choice(fault.statuses)
            if status == 500:
                return errors.server_error()
            if status == 502:
                return errors.upstream_error()
            return errors.gateway_page(status)
    return None


def is_asleep(vehicle_id: str) -> bool:
    return any(
        take(fault) for fault in active(FaultKind.ASLEEP, target=FaultTarget.API, vehicle_id=vehicle_id)
    )


def loses_token_response() -> bool:
    return any(
        take(fault)
        for fault in active(FaultKind.LOSE_TOKEN_RESPONSE, target=FaultTarget.TOKEN, vehicle_id=None)
    )
