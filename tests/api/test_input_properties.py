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
from tests.app.conftest import start_connect

from .conftest import API

EXAMPLES = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples on every run and both database legs
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
optional = st.one_of  # readability below


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

    assert response.status_code < 500 or response.status_code in (502, 503), response.content[:500]
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


@EXAMPLES
@given(
    vehicle=st.one_of(
        query_text.filter(lambda text: "/" not in text and "?" not in text and "#" not in text), st.integers()
    ),
    action=st.sampled_from(["lock", "unlock", "start-charge", "stop-charge", "refresh"]),
    flag=query_text,
    body=json_values,
)
def test_vehicle_actions_with_arbitrary_ids_flags_and_bodies(
    account, browser, queued, vehicle, action, flag, body
):
    """Arbitrary ids and ``async`` flags: never a 5xx; every command row is either done or queued (pending)."""
    cache.clear()  # throttle counts: this is about input, not rates
    before = VehicleCommand.objects.count()

    response = browser.post(
        f"{API}/vehicles/{vehicle}/{action}/",
        json.dumps(body),
        content_type="application/json",
        QUERY_STRING=urlencode({"async": flag}),
    )

    assert response.status_code < 500, response.content[:500]
    pending = VehicleCommand.objects.filter(status=VehicleCommand.Status.PENDING)
    assert pending.count() == len(
        [call for call in queued if call[0] == "django_smartcar.send_vehicle_command"]
    )
    if response.status_code in (400, 404):
        assert VehicleCommand.objects.count() == before


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
