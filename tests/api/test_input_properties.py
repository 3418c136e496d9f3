"""Property-based: arbitrary parameters to Connect, the callback and the REST API never give a 5xx or leave a
half-written row. Bounded (a hundred-odd examples each), against the live simulator where Smartcar is needed."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_smartcar.models import ConnectState, SmartcarAccount, VehicleCommand
from django_smartcar.services.connect import disconnect_vehicle
from tests.app.conftest import start_connect

from .conftest import API

EXAMPLES = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples on every run and both database legs
    database=None,
)
# Text a query string can carry (any code point but lone surrogates, which no URL can encode).
query_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
# Text a JSON document can carry: anything, lone surrogates included (json.dumps escapes them as \ud800).
json_text = st.text(max_size=60)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | json_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(json_text, children, max_size=4),
    max_leaves=12,
)


def live_states_are_consistent() -> None:
    """Every stored state is complete: a hash, a storable next URL and an expiry after its creation."""
    for state in ConnectState.objects.all():
        assert len(state.state_hash) == 64 and state.expires_at > state.created_at
        assert not any(ord(char) < 32 for char in state.next_url)


@EXAMPLES
@given(
    params=st.fixed_dictionaries(
        {},
        optional={
            "next": query_text,
            "make": query_text,
            "single_select": query_text,
            "single_select_vin": query_text,
            "force": query_text,
        },
    )
)
def test_connect_with_arbitrary_parameters(smartcar, browser, params):
    before = ConnectState.objects.count()

    response = browser.get("/smartcar/connect/", params)

    assert response.status_code in (302, 400), response.content[:500]
    if response.status_code == 400:
        assert ConnectState.objects.count() == before
    live_states_are_consistent()


@pytest.fixture
def real_state(smartcar, browser) -> str:
    return parse_qs(urlsplit(start_connect(browser)).query)["state"][0]


@EXAMPLES
@given(
    params=st.fixed_dictionaries(
        {},
        optional={
            "state": query_text,
            "code": query_text,
            "error": query_text,
            "error_description": query_text,
        },
    ),
    with_real_state=st.booleans(),
)
def test_callback_with_arbitrary_parameters(real_state, browser, params, with_real_state):
    if with_real_state:
        params = {
            **params,
            "state": real_state,
        }  # gets past the state: the code is exchanged at the simulator

    response = browser.get("/smartcar/callback/", params)

    assert response.status_code < 500, response.content[:500]
    assert not SmartcarAccount.objects.exists()  # no arbitrary code ever connects anything


@EXAMPLES
@given(
    body=json_values
    | st.fixed_dictionaries(
        {},
        optional={
            key: json_values for key in ("next", "make", "single_select", "single_select_vin", "force")
        },
    )
)
def test_connect_url_api_with_arbitrary_json(smartcar, browser, body):
    before = ConnectState.objects.count()

    response = browser.post(f"{API}/connect-url/", json.dumps(body), content_type="application/json")

    assert response.status_code in (200, 400), response.content[:500]
    if response.status_code == 200:
        assert ConnectState.objects.filter(state_hash=ConnectState.hash(response.json()["state"])).exists()
    else:
        assert ConnectState.objects.count() == before
    live_states_are_consistent()


@pytest.fixture
def vehicle_ids(account) -> dict[str, int]:
    """The account's vehicles by role: two connected, one disconnected (its actions must be refused)."""
    first, second, third = account.vehicles.order_by("pk")
    disconnect_vehicle(third)
    return {"connected": first.pk, "also connected": second.pk, "disconnected": third.pk}


@EXAMPLES
@given(
    target=st.one_of(
        st.sampled_from(["connected", "also connected", "disconnected"]),
        query_text.filter(lambda text: not set(text) & set("/?#%")),
        st.integers(),
    ),
    action=st.sampled_from(["lock", "unlock", "start-charge", "stop-charge", "refresh"]),
    flag=st.one_of(st.sampled_from(["1", "0", "true", "false"]), query_text),
    body=json_values,
)
def test_vehicle_actions_with_arbitrary_ids_flags_and_bodies(
    vehicle_ids, browser, queued, smartcar_requests, target, action, flag, body
):
    """Arbitrary ids, ``async`` flags and bodies: never a 5xx; every command row is done, or pending with its
    task queued; nothing is sent to Smartcar for the disconnected vehicle."""
    cache.clear()  # throttle counts: this is about input, not rates
    before = VehicleCommand.objects.count()
    sent_before = len(smartcar_requests)
    vehicle = vehicle_ids.get(target, target) if isinstance(target, str) else target

    response = browser.post(
        f"{API}/vehicles/{vehicle}/{action}/",
        json.dumps(body),
        content_type="application/json",
        QUERY_STRING=urlencode({"async": flag}),
    )

    assert response.status_code < 500, response.content[:500]
    pending = VehicleCommand.objects.filter(status=VehicleCommand.Status.PENDING)
    queued_commands = [args for name, args in queued if name == "django_smartcar.send_vehicle_command"]
    assert sorted(pending.values_list("pk", flat=True)) == sorted(args[3] for args in queued_commands)
    if response.status_code in (400, 404):
        assert VehicleCommand.objects.count() == before
    if target == "disconnected":
        assert response.status_code in (400, 403, 409) and len(smartcar_requests) == sent_before


@EXAMPLES
@given(
    path=st.sampled_from(["vehicles/", "commands/", "accounts/"]),
    params=st.dictionaries(
        st.sampled_from(["account", "connected", "vehicle", "page", "page_size", "ordering", "format"]),
        query_text,
        max_size=4,
    ),
)
def test_list_filters_with_arbitrary_values(account, browser, path, params):
    response = browser.get(f"{API}/{path}", params)
    assert response.status_code in (200, 400, 404), response.content[:500]
