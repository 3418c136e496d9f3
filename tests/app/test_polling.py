"""Adaptive polling and the application's rate limit: when each vehicle is read next, and how much is sent at once.

Against the database only (the reads themselves are tested against the simulator in test_bulk_refresh.py and
test_request_budget.py): the rules are about time, so each test gives ``now``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_smartcar import client
from django_smartcar.conf import smartcar_settings
from django_smartcar.models import SmartcarAccount, Vehicle, VehicleRequestUsage
from django_smartcar.services import budget, pacing, polling

NOW = datetime(2026, 11, 3, 12, 0, tzinfo=dt_timezone.utc)

pytestmark = pytest.mark.django_db


@pytest.fixture
def vehicle(django_user_model):
    owner = django_user_model.objects.create_user("poller")
    account = SmartcarAccount.objects.create(owner=owner, smartcar_user_id="u-1")
    return Vehicle.objects.create(account=account, smartcar_id="v-1", permissions=["read_odometer"])


def state_error(code: str) -> client.SmartcarException:
    return client.SmartcarException("asleep", type="VEHICLE_STATE", code=code, status_code=409)


def test_faster_while_charging_or_driving_slower_parked(vehicle):
    intervals = {}
    for state in (polling.CHARGING, polling.DRIVING, polling.PARKED):
        intervals[state] = polling.after_read(vehicle, state, now=NOW) - NOW
    assert intervals[polling.DRIVING] < intervals[polling.CHARGING] < intervals[polling.PARKED]
    assert intervals[polling.PARKED] == polling.interval_for(polling.PARKED)


def test_asleep_backs_off_doubling_up_to_the_maximum(vehicle):
    waits = []
    for _ in range(6):
        waits.append(polling.after_read(vehicle, polling.ASLEEP, now=NOW) - NOW)
    base = polling.interval_for(polling.ASLEEP)
    assert waits[:2] == [base, base * 2]
    assert waits[-1] == smartcar_settings.POLL_INTERVAL_MAX
    # Any data read ends the back-off.
    polling.after_read(vehicle, polling.PARKED, now=NOW)
    assert polling.after_read(vehicle, polling.ASLEEP, now=NOW) - NOW == base


def test_a_rate_limit_waits_for_retry_after_and_no_longer(vehicle):
    due = polling.after_read(vehicle, polling.RATE_LIMITED, retry_after=90, now=NOW)
    assert due == NOW + timedelta(seconds=90)
    assert list(polling.due_vehicle_ids(now=NOW + timedelta(seconds=89))) == []
    assert list(polling.due_vehicle_ids(now=NOW + timedelta(seconds=90))) == [vehicle.pk]


def test_states_are_read_from_what_the_car_said(vehicle):
    assert polling.state_after_failure(state_error("ASLEEP")) == polling.ASLEEP
    assert polling.state_after_failure(state_error("UNREACHABLE")) == polling.UNREACHABLE
    limited = client.SmartcarException("slow down", type="RATE_LIMIT", code="VEHICLE", status_code=429)
    assert polling.state_after_failure(limited) == polling.RATE_LIMITED
    vehicle.charge_state = "CHARGING"
    assert (
        polling.state_after_reading(vehicle, read_anything=True, errors=[], previous_odometer=None)
        == "charging"
    )
    vehicle.charge_state, vehicle.odometer_km = "NOT_CHARGING", 120.0
    assert (
        polling.state_after_reading(vehicle, read_anything=True, errors=[], previous_odometer=100.0)
        == "driving"
    )
    assert (
        polling.state_after_reading(vehicle, read_anything=True, errors=[], previous_odometer=120.0)
        == "parked"
    )
    asleep = polling.state_after_reading(
        vehicle, read_anything=False, errors=[state_error("ASLEEP")], previous_odometer=120.0
    )
    assert asleep == polling.ASLEEP


def test_the_months_remaining_budget_sets_a_floor(vehicle, settings):
    """Near the budget, polling spreads what is left over the rest of the month, and stops when nothing is."""
    settings.SMARTCAR = {
        **settings.SMARTCAR,
        "MONTHLY_REQUESTS_PER_VEHICLE": 100,
        "BUDGET_WARNING_THRESHOLD": 0.6,
    }
    month = budget.month_of(NOW)
    usage = VehicleRequestUsage.objects.create(vehicle=vehicle, month=month, scheduled=70)
    left_in_month = budget.next_month_start(NOW) - NOW  # 27.5 days; 10 polls left of polling's 80

    wait = polling.after_read(vehicle, polling.DRIVING, now=NOW) - NOW
    assert wait == left_in_month / 10  # past the warning threshold: spread evenly, not driving's 30 minutes
    usage.scheduled = 40
    usage.save()
    wait = polling.after_read(vehicle, polling.DRIVING, now=NOW) - NOW
    assert wait == left_in_month / 40 / 2  # under it: half that, so polling can follow a charge or a drive

    usage.scheduled = 80
    usage.save()
    assert polling.after_read(vehicle, polling.DRIVING, now=NOW) == budget.next_month_start(NOW)
    vehicle.refresh_from_db()
    assert vehicle.poll_reason == polling.BUDGET


def test_webhook_data_keeps_a_vehicle_from_being_polled(vehicle):
    polling.after_read(vehicle, polling.DRIVING, now=NOW)
    polling.after_webhook(vehicle, now=NOW)
    vehicle.refresh_from_db()
    assert vehicle.next_poll_at == NOW + smartcar_settings.WEBHOOK_FRESH_FOR
    assert vehicle.poll_reason == polling.WEBHOOK
    assert list(polling.due_vehicle_ids(now=NOW + timedelta(hours=1))) == []


def test_a_round_claims_no_more_than_the_bucket_grants_and_leases_them(vehicle, django_user_model):
    account = vehicle.account
    for index in range(5):
        Vehicle.objects.create(account=account, smartcar_id=f"v-extra-{index}")
    pacing.take(117, now=NOW)  # 3 of Smartcar's default 120 left

    claimed = polling.claim_due(now=NOW)

    assert len(claimed) == 3
    assert len(polling.claim_due(now=NOW + timedelta(seconds=1))) == 0  # bucket empty
    leased = Vehicle.objects.filter(pk__in=claimed)
    assert {v.poll_reason for v in leased} == {polling.QUEUED}
    # A lost task's lease runs out and its vehicles are due again.
    later = NOW + polling.QUEUED_LEASE + timedelta(seconds=1)
    assert set(claimed) <= set(polling.due_vehicle_ids(now=later))


def test_the_bucket_refills_at_smartcars_pace_and_is_shared():
    assert pacing.take(500, now=NOW) == 120  # Smartcar's default bucket
    assert pacing.take(1, now=NOW) == 0
    assert pacing.take(10, now=NOW + timedelta(minutes=1)) == 1  # 2 a minute, counted 5 % slower
    wait = pacing.seconds_until(10, now=NOW + timedelta(minutes=1))
    assert 270 < wait < 300  # 9.1 requests missing at 1.9 a minute
    pacing.spend(5, now=NOW + timedelta(minutes=1))  # a person's refresh does not wait, and is counted
    assert pacing.seconds_until(10, now=NOW + timedelta(minutes=1)) > wait
    pacing.drain(600, now=NOW + timedelta(minutes=2))
    assert pacing.take(1, now=NOW + timedelta(minutes=11)) == 0


def test_no_pacing_when_the_rate_limit_is_off(settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "APP_RATE_LIMIT": None}
    assert pacing.take(10_000, now=NOW) == 10_000
    assert pacing.available(now=NOW) is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("APP_RATE_LIMIT", {"capacity": 0, "refill_per_minute": 2}),
        ("APP_RATE_LIMIT", {"capacity": 120, "refill": 2}),
        ("POLL_INTERVALS", {"sleeping": timedelta(hours=1)}),
        ("POLL_INTERVALS", {"parked": 3600}),
        ("USER_RESERVED_SHARE", 1.5),
        ("MONTHLY_REQUESTS_PER_VEHICLE", 0),
    ],
)
def test_budget_settings_are_validated(settings, name, value):
    settings.SMARTCAR = {**settings.SMARTCAR, name: value}
    with pytest.raises(ImproperlyConfigured, match=name):
        getattr(smartcar_settings, name)
