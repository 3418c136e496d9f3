"""Signals over the API: on the vehicle detail and paginated at vehicles/{id}/signals/, the owner's only, in
constant queries however many signals a vehicle reported."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest

from django_smartcar.models import Vehicle
from django_smartcar.services.signals import record_signals
from tests.api.conftest import API, offline_account

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=dt_timezone.utc)
T0_MS = int(T0.timestamp() * 1000)


def report(vehicle: Vehicle, extra: int = 0) -> None:
    """An odometer value, a lock state that failed to read (the last good value kept), and ``extra`` others."""
    signals = [
        {
            "code": "odometer-traveleddistance",
            "name": "TraveledDistance",
            "group": "Odometer",
            "body": {"value": 42506.3, "unit": "km"},
            "meta": {"oemUpdatedAt": T0_MS, "retrievedAt": T0_MS + 9000},
            "status": {"value": "SUCCESS"},
        },
        {
            "code": "closure-islocked",
            "name": "IsLocked",
            "group": "Closure",
            "body": {"value": True},
            "meta": {"oemUpdatedAt": T0_MS, "retrievedAt": T0_MS},
        },
        *(
            {
                "code": f"diagnostics-extra{index:03}",
                "name": f"Extra{index:03}",
                "group": "Diagnostics",
                "body": {"value": index},
            }
            for index in range(extra)
        ),
    ]
    record_signals(vehicle, signals, received_at=T0 + timedelta(minutes=1))
    asleep = {
        "code": "closure-islocked",
        "name": "IsLocked",
        "group": "Closure",
        "status": {"value": "ERROR", "error": {"type": "VEHICLE_STATE", "code": "ASLEEP"}},
    }
    record_signals(vehicle, [asleep], received_at=T0 + timedelta(minutes=2))


ODOMETER = {
    "code": "odometer-traveleddistance",
    "name": "TraveledDistance",
    "group": "Odometer",
    "status": "SUCCESS",
    "body": {"value": 42506.3, "unit": "km"},
    "error": None,
    "oem_updated_at": "2026-03-01T12:00:00Z",
    "retrieved_at": "2026-03-01T12:00:09Z",
}
IS_LOCKED = {
    "code": "closure-islocked",
    "name": "IsLocked",
    "group": "Closure",
    "status": "ERROR",
    "body": {"value": True},
    "error": {"type": "VEHICLE_STATE", "code": "ASLEEP"},
    "oem_updated_at": "2026-03-01T12:00:00Z",
    "retrieved_at": "2026-03-01T12:00:00Z",
}


@pytest.fixture
def vehicle(db, user) -> Vehicle:
    found = offline_account(user, 1).vehicles.get()
    report(found)
    return found


def test_the_vehicle_detail_lists_every_signal_by_group(vehicle, browser):
    body = browser.get(f"{API}/vehicles/{vehicle.pk}/").json()

    assert body["signals"] == [IS_LOCKED, ODOMETER]  # by group, then name
    # The list stays as it was: signals are for the detail.
    assert "signals" not in browser.get(f"{API}/vehicles/").json()["results"][0]


def test_the_signals_endpoint_pages_them(vehicle, browser):
    report(vehicle, extra=3)

    pages = [browser.get(f"{API}/vehicles/{vehicle.pk}/signals/?page_size=2").json()]
    while pages[-1]["next"]:
        pages.append(browser.get(pages[-1]["next"]).json())

    assert len(pages) == 3 and pages[0]["count"] == 5
    assert pages[0]["results"][0] == IS_LOCKED and pages[-1]["results"] == [ODOMETER]
    assert [signal["code"] for page in pages for signal in page["results"]] == [
        "closure-islocked",
        "diagnostics-extra000",
        "diagnostics-extra001",
        "diagnostics-extra002",
        "odometer-traveleddistance",
    ]


def test_another_users_vehicle_signals_are_a_404(vehicle, other_browser, browser):
    assert other_browser.get(f"{API}/vehicles/{vehicle.pk}/signals/").status_code == 404
    assert other_browser.get(f"{API}/vehicles/{vehicle.pk}/").status_code == 404
    assert browser.get(f"{API}/vehicles/{2**70}/signals/").status_code == 404
    assert browser.get(f"{API}/vehicles/{vehicle.pk}/signals/").status_code == 200


def test_signing_in_is_required(vehicle, client):
    assert client.get(f"{API}/vehicles/{vehicle.pk}/signals/").status_code in (401, 403)


@pytest.mark.parametrize("path", ["", "signals/"])
def test_the_same_few_queries_for_2_or_200_signals(vehicle, browser, django_assert_num_queries, path):
    url = f"{API}/vehicles/{vehicle.pk}/{path}"
    browser.get(url)  # warm
    # Session, user, vehicle, signals (and a count when paginated): the same whatever the number of signals.
    with django_assert_num_queries(5 if path else 4) as few:
        browser.get(url)

    report(vehicle, extra=198)
    with django_assert_num_queries(len(few.captured_queries)):
        response = browser.get(f"{url}?page_size=200")

    answer = response.json()
    assert len(answer["signals"] if not path else answer["results"]) == 200
