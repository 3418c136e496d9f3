"""Connect under faults and hostile input: racing callbacks, unstorable strings, piles of states."""

from __future__ import annotations

import threading
from datetime import timedelta
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from django_smartcar import tasks
from django_smartcar.models import ConnectState, SmartcarAccount
from django_smartcar.services import connect as connect_service
from django_smartcar.simulator.testing import complete_connect

from .conftest import DRIVER, return_to_callback, start_connect

BARRIER_TIMEOUT = 30.0


def test_two_callbacks_at_once_for_a_new_smartcar_user_both_connect(smartcar, browser, user, monkeypatch):
    """A double click (or two tabs) on Connect: both callbacks must end connected, with one account row."""
    finals = [complete_connect(start_connect(browser), email=DRIVER) for _ in range(2)]
    # Both callbacks hold everything Smartcar answered, and neither has written the account: then both go on.
    barrier = threading.Barrier(2, timeout=BARRIER_TIMEOUT)
    fetch_vehicles = connect_service.vehicles.fetch_vehicles

    def fetch_then_wait_for_the_other(access_token: str):
        snapshots = fetch_vehicles(access_token)
        barrier.wait()  # raises BrokenBarrierError (failing the test) unless both callbacks got here together
        return snapshots

    monkeypatch.setattr(connect_service.vehicles, "fetch_vehicles", fetch_then_wait_for_the_other)
    responses: dict[int, object] = {}
    errors: list[BaseException] = []

    def callback(index: int) -> None:
        tab = Client()
        tab.cookies = browser.cookies  # the same browser session: two tabs
        try:
            responses[index] = return_to_callback(tab, finals[index])
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=callback, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=BARRIER_TIMEOUT * 2)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert [responses[index].status_code for index in range(2)] == [302, 302]
    account = SmartcarAccount.objects.get()
    assert account.owner == user and account.status == SmartcarAccount.Status.ACTIVE
    assert account.vehicles.filter(is_connected=True).count() == 3
    assert not ConnectState.objects.filter(used_at__isnull=True).exists()


@pytest.mark.parametrize("unsafe_next", ["/\x00/x", "/ok\x01", "/" + "a" * 3000])
def test_an_unstorable_next_falls_back_to_the_landing_page(smartcar, browser, unsafe_next):
    response = browser.get("/smartcar/connect/", {"next": unsafe_next})

    assert response.status_code == 302
    assert ConnectState.objects.get().next_url == "/smartcar/"


def test_a_nul_in_next_over_the_wire_is_not_a_500(smartcar, browser):
    response = browser.get("/smartcar/connect/?next=/%00/x")
    assert response.status_code == 302 and ConnectState.objects.get().next_url == "/smartcar/"


@pytest.mark.parametrize("option", ["make", "single_select_vin"])
def test_a_connect_option_with_control_characters_is_refused(smartcar, browser, option):
    response = browser.get("/smartcar/connect/", {option: "TES\x00LA"})

    assert response.status_code == 400 and f"The {option} parameter is invalid." in response.content.decode()
    assert not ConnectState.objects.exists()


def test_a_state_with_control_characters_is_refused(smartcar, browser):
    response = browser.get("/smartcar/callback/", {"state": "abc\x00def", "code": "x"})
    assert response.status_code == 400 and not SmartcarAccount.objects.exists()


def make_state(user, *, expires_in: timedelta, used: bool = False) -> ConnectState:
    now = timezone.now()
    return ConnectState.objects.create(
        state_hash=ConnectState.hash(f"state-{now.timestamp()}-{ConnectState.objects.count()}"),
        user=user,
        expires_at=now + expires_in,
        used_at=now if used else None,
    )


@pytest.mark.django_db
def test_expired_states_are_cleared_and_live_ones_kept(user):
    expired = [
        make_state(user, expires_in=-timedelta(seconds=1)),
        make_state(user, expires_in=-timedelta(days=3)),
    ]
    expired_used = make_state(user, expires_in=-timedelta(minutes=1), used=True)
    live = make_state(user, expires_in=timedelta(minutes=5))

    assert connect_service.clear_expired_states(dry_run=True) == 3
    assert ConnectState.objects.count() == 4
    assert connect_service.clear_expired_states() == 3
    assert list(ConnectState.objects.all()) == [live]
    assert not ConnectState.objects.filter(pk__in=[s.pk for s in [*expired, expired_used]]).exists()


@pytest.mark.django_db
def test_the_command_and_the_beat_task_clear_expired_states(user):
    make_state(user, expires_in=-timedelta(minutes=1))
    live = make_state(user, expires_in=timedelta(minutes=5))

    out = StringIO()
    call_command("smartcar_clear_connect_states", "--dry-run", stdout=out)
    assert "1 expired Connect state(s) would be deleted." in out.getvalue()
    assert ConnectState.objects.count() == 2

    call_command("smartcar_clear_connect_states", stdout=out)
    assert "Deleted 1 expired Connect state(s)." in out.getvalue()
    assert list(ConnectState.objects.all()) == [live]

    make_state(user, expires_in=-timedelta(minutes=1))
    assert tasks.clear_connect_states() == 1
    assert list(ConnectState.objects.all()) == [live]


def test_live_states_per_user_are_bounded_oldest_dropped(smartcar, browser, user, other_user, settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "MAX_CONNECT_STATES_PER_USER": 3}
    others = make_state(other_user, expires_in=timedelta(minutes=5))
    urls = [start_connect(browser) for _ in range(5)]

    kept = ConnectState.objects.filter(user=user)
    assert kept.count() == 3
    newest = {ConnectState.hash(parse_qs(urlsplit(url).query)["state"][0]) for url in urls[-3:]}
    assert set(kept.values_list("state_hash", flat=True)) == newest
    assert ConnectState.objects.filter(pk=others.pk).exists()

    # The newest link still connects; a dropped one is "unknown".
    final = complete_connect(urls[-1], email=DRIVER)
    assert return_to_callback(browser, final).status_code == 302
    dropped = return_to_callback(browser, complete_connect(urls[0], email=DRIVER))
    assert dropped.status_code == 400 and "unknown" in dropped.content.decode()
