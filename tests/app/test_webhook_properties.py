"""Property-based: any SIGNED body, however hostile, gets a non-5xx answer, and whatever is stored processes
without crashing (a failure is recorded on the event) and leaves the vehicle API answering.

Signed bodies are what a leaked or misused management token, or a confused upstream, can send: the signature
check is no defence there. Bodies are built from v4/v2-like shapes with arbitrary strings (NUL, lone surrogates,
case-growing characters) and numbers (NaN, infinities, huge integers), plus raw arbitrary bytes.
"""

from __future__ import annotations

import json
from datetime import timezone as dt_timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_smartcar.models import SmartcarAccount, WebhookEvent
from django_smartcar.services import webhooks
from django_smartcar.services.vehicles import DATA_GROUPS
from django_smartcar.simulator import webhooks as simulated

URL_ID = "hook-properties-Jr8sW2"
TOKEN = "property-management-token"
URL = f"/smartcar/webhooks/{URL_ID}/"
MAX_EXAMPLES = 150

HOSTILE_TEXT = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=()), max_size=40),
    st.sampled_from(["", "\x00", "a\x00b", "\ud800", "\udfff", "\u00df" * 30, "X" * 120, "VEHICLE_STATE"]),
)
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**320),
    st.sampled_from([0, -5000, 1000, 1e308, -1e308]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, HOSTILE_TEXT)
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(HOSTILE_TEXT, children, max_size=4)
    ),
    max_leaves=12,
)
STAMPS = st.one_of(
    st.datetimes(timezones=st.just(dt_timezone.utc)).map(lambda moment: moment.isoformat()),
    st.datetimes().map(lambda moment: moment.isoformat()),
    HOSTILE_TEXT,
    JSON,
)


def mostly(usual: st.SearchStrategy, odd: st.SearchStrategy, odd_in: int = 5) -> st.SearchStrategy:
    """``usual`` most of the time, ``odd`` one time in ``odd_in``: enough well-shaped events get stored and
    processed, while every hostile variant still shows up."""
    return st.integers(0, odd_in - 1).flatmap(lambda pick: odd if pick == 0 else usual)


SAFE_TEXT = st.text(alphabet="abcdefXYZ0123456789-_", min_size=1, max_size=30)
SIGNAL_CODES = st.sampled_from(list(webhooks.SIGNALS)) | HOSTILE_TEXT
VALUE_KEYS = st.sampled_from(["value", "latitude", "longitude", "unit"])
V2_KEYS = st.sampled_from(
    [
        "distance",
        "latitude",
        "longitude",
        "percentRemaining",
        "range",
        "amountRemaining",
        "state",
        "isPluggedIn",
        "isLocked",
        "doors",
        "lifeRemaining",
        "frontLeft",
        "vin",
    ]
)


def vehicle_ids(real_ids: list[str]):
    return mostly(st.sampled_from(real_ids), HOSTILE_TEXT | JSON)


def v4_events(real_ids: list[str]):
    signal = st.fixed_dictionaries(
        {
            "code": mostly(st.sampled_from(list(webhooks.SIGNALS)), SIGNAL_CODES),
            "body": mostly(st.dictionaries(VALUE_KEYS, mostly(NUMBERS, SCALARS | JSON), max_size=4), JSON),
        },
        optional={
            "meta": st.fixed_dictionaries({}, optional={"oemUpdatedAt": STAMPS, "retrievedAt": STAMPS})
        },
    )
    error = st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["AUTHENTICATION", "COMPATIBILITY"]) | HOSTILE_TEXT,
            "description": HOSTILE_TEXT | JSON,
            "resolution": st.fixed_dictionaries({"type": st.just("REAUTHENTICATE") | HOSTILE_TEXT}) | JSON,
        },
    )
    data = st.fixed_dictionaries(
        {"vehicle": mostly(st.fixed_dictionaries({"id": vehicle_ids(real_ids)}), JSON)},
        optional={
            "signals": mostly(st.lists(mostly(signal, JSON), max_size=5), JSON),
            "errors": mostly(st.lists(mostly(error, JSON), max_size=3), JSON),
            "challenge": HOSTILE_TEXT | JSON,
        },
    )
    return st.fixed_dictionaries(
        {
            "eventType": mostly(
                st.sampled_from(["VEHICLE_STATE", "VEHICLE_ERROR", "VERIFY", "vehicle_state"]),
                HOSTILE_TEXT | JSON,
            ),
            "data": mostly(data, JSON),
        },
        optional={"eventId": mostly(SAFE_TEXT, HOSTILE_TEXT | JSON), "meta": JSON},
    )


def v2_events(real_ids: list[str]):
    answer = st.fixed_dictionaries(
        {},
        optional={
            "code": mostly(st.sampled_from([200, 200, 400, 500]), JSON),
            "path": mostly(st.sampled_from([group.path for group in DATA_GROUPS]), HOSTILE_TEXT),
            "body": mostly(
                st.dictionaries(HOSTILE_TEXT | V2_KEYS, mostly(NUMBERS, SCALARS | JSON), max_size=5), JSON
            ),
            "headers": mostly(st.fixed_dictionaries({"sc-data-age": STAMPS}), JSON),
        },
    )
    vehicle = st.fixed_dictionaries(
        {"vehicleId": vehicle_ids(real_ids)},
        optional={"data": mostly(st.lists(mostly(answer, JSON), max_size=5), JSON)},
    )
    return st.fixed_dictionaries(
        {
            "eventName": mostly(st.sampled_from(["schedule", "verify", "eventBased"]), HOSTILE_TEXT),
            "payload": mostly(
                st.fixed_dictionaries(
                    {"vehicles": mostly(st.lists(vehicle, max_size=3), JSON)},
                    optional={"challenge": HOSTILE_TEXT},
                ),
                JSON,
            ),
        },
        optional={"eventId": mostly(SAFE_TEXT, HOSTILE_TEXT | JSON), "data": JSON},
    )


def encoded(payload) -> st.SearchStrategy[bytes]:
    """JSON text as UTF-8; a lone surrogate then becomes bytes that are not UTF-8 at all (surrogatepass)."""
    return st.booleans().map(
        lambda ensure_ascii: json.dumps(payload, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")
    )


def bodies(real_ids: list[str]):
    shaped = st.one_of(v4_events(real_ids), v4_events(real_ids), v2_events(real_ids), JSON).flatmap(encoded)
    return mostly(shaped, st.binary(max_size=300), odd_in=10)


@pytest.fixture
def signed_receiver(account: SmartcarAccount, settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "WEBHOOK_URL_ID": URL_ID, "MANAGEMENT_TOKEN": TOKEN}
    return account


def test_any_signed_body_gets_a_non_5xx_answer_and_what_is_stored_processes(signed_receiver, browser):
    from tests.celery_app import app

    account = signed_receiver
    real_ids = list(account.vehicles.values_list("smartcar_id", flat=True))
    vehicle_pks = list(account.vehicles.values_list("pk", flat=True))
    assert (
        not app.conf.task_always_eager
    )  # processed below, one event at a time, so a failure is attributable

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
    )
    @given(body=bodies(real_ids))
    def check(body: bytes) -> None:
        response = browser.post(
            URL, data=body, content_type="application/json", HTTP_SC_SIGNATURE=simulated.sign(TOKEN, body)
        )
        assert response.status_code < 500, response.content[:300]
        if response.status_code >= 400:
            assert response.json()["error"]
            return
        for event in WebhookEvent.objects.filter(processed_at__isnull=True, last_error=""):
            try:
                webhooks.process_event(event.pk)
            except Exception:  # allowed, when the failure is recorded on the event
                event.refresh_from_db()
                assert event.attempts >= 1 and event.last_error, "a failed event must show its failure"
        for pk in vehicle_pks:
            api = browser.get(f"/api/smartcar/vehicles/{pk}/")
            assert api.status_code == 200, api.content[:300]

    check()
    # The shapes are mostly well-formed, so many bodies get past the receiver: processing was exercised.
    assert WebhookEvent.objects.filter(processed_at__isnull=False).count() >= 5
