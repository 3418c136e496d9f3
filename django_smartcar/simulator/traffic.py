"""What the simulated Vehicle API received: one counter per vehicle, method and path, so tests can check that
a client never sent a billed call twice (``GET _simulator/requests`` reads them, ``DELETE`` resets them)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet

from .models import RequestCount

_FIELD_LENGTHS = {"vehicle_id": 100, "method": 10, "path": 200}


def _key(vehicle_id: str, method: str, path: str) -> dict[str, str]:
    values = {"vehicle_id": vehicle_id, "method": method.upper(), "path": "/" + path.strip("/")}
    return {name: value[: _FIELD_LENGTHS[name]] for name, value in values.items()}


def record(vehicle_id: str, method: str, path: str) -> None:
    """Count one request to ``/v2.0/vehicles/{vehicle_id}/{path}`` (``path`` "" for the vehicle itself)."""
    key = _key(vehicle_id, method, path)
    if RequestCount.objects.filter(**key).update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            RequestCount.objects.create(**key, count=1)
    except IntegrityError:  # another thread created it first
        RequestCount.objects.filter(**key).update(count=F("count") + 1)


def counts(vehicle_id: str | None = None) -> QuerySet[RequestCount]:
    rows = RequestCount.objects.all()
    return rows.filter(vehicle_id=vehicle_id) if vehicle_id else rows


def as_json(vehicle_id: str | None = None) -> dict[str, Any]:
    rows = list(counts(vehicle_id))
    return {
        "requests": [
            {"vehicleId": row.vehicle_id, "method": row.method, "path": row.path, "count": row.count}
            for row in rows
        ],
        "total": sum(row.count for row in rows),
    }


def reset(vehicle_id: str | None = None) -> int:
    deleted, _ = counts(vehicle_id).delete()
    return deleted
