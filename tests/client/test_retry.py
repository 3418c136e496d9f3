"""The retry policy: reads are retried on transient failures, commands and token exchanges never."""

import pytest
import requests
from requests.adapters import HTTPAdapter

from django_smartcar.client import (
    GatewayTimeoutException,
    RateLimitingException,
    RetryPolicy,
    ServerException,
    SmartcarConnectionError,
    SmartcarException,
    SmartcarTimeout,
    Transport,
    UpstreamException,
    Vehicle,
    get_vehicles,
)

from .conftest import ACCESS_TOKEN, API, VEHICLE_ID, VEHICLE_URL, v2_error

ODOMETER_URL = VEHICLE_URL + "/odometer"
RATE_LIMIT = v2_error(429, "RATE_LIMIT", "VEHICLE", "Slow down.")


@pytest.fixture
def vehicle(transport):
    return Vehicle(VEHICLE_ID, ACCESS_TOKEN, transport=transport)


class TestReadsAreRetried:
    @pytest.mark.parametrize("status", [502, 503, 504])
    def test_gateway_errors_then_success(self, vehicle, mocked, sleeps, status):
        mocked.get(ODOMETER_URL, status=status, json=v2_error(status, "UPSTREAM"))
        mocked.get(ODOMETER_URL, json={"distance": 10})
        assert vehicle.odometer().distance == 10
        assert len(mocked.calls) == 2
        assert sleeps == [0.5 / 2 + 0.5 * 0.5 / 2]

    def test_connection_error_then_success(self, vehicle, mocked, sleeps):
        mocked.get(ODOMETER_URL, body=requests.ConnectionError("reset"))
        mocked.get(ODOMETER_URL, body=requests.ReadTimeout("slow"))
        mocked.get(ODOMETER_URL, json={"distance": 11})
        assert vehicle.odometer().distance == 11
        assert len(sleeps) == 2

    def test_rate_limit_honours_retry_after(self, vehicle, mocked, sleeps):
        mocked.get(ODOMETER_URL, status=429, json=RATE_LIMIT, headers={"Retry-After": "7"})
        mocked.get(ODOMETER_URL, json={"distance": 12})
        assert vehicle.odometer().distance == 12
        assert sleeps == [7.0]

    def test_retry_after_beyond_the_cap_is_raised_at_once(self, vehicle, mocked, sleeps):
        mocked.get(ODOMETER_URL, status=429, json=RATE_LIMIT, headers={"Retry-After": "31"})
        with pytest.raises(RateLimitingException) as caught:
            vehicle.odometer()
        assert caught.value.retry_after == 31
        assert sleeps == []
        assert len(mocked.calls) == 1

    def test_rate_limit_without_retry_after_backs_off(self, vehicle, mocked, sleeps):
        mocked.get(ODOMETER_URL, status=429, json=RATE_LIMIT)
        mocked.get(ODOMETER_URL, json={"distance": 13})
        vehicle.odometer()
        assert len(sleeps) == 1 and sleeps[0] > 0

    def test_gives_up_after_max_attempts_with_growing_delays(self, vehicle, mocked, sleeps):
        mocked.get(ODOMETER_URL, status=503, body="Service Unavailable")
        with pytest.raises(SmartcarException) as caught:
            vehicle.odometer()
        assert caught.value.status_code == 503
        assert len(mocked.calls) == 3
        assert sleeps == [0.375, 0.75]

    def test_last_error_is_raised(self, vehicle, mocked):
        mocked.get(ODOMETER_URL, status=502, json=v2_error(502, "UPSTREAM"))
        mocked.get(ODOMETER_URL, status=502, json=v2_error(502, "UPSTREAM"))
        mocked.get(ODOMETER_URL, status=504, body="")
        with pytest.raises(GatewayTimeoutException):
            vehicle.odometer()

    def test_connection_errors_exhausted(self, vehicle, mocked):
        mocked.get(ODOMETER_URL, body=requests.ConnectionError("down"))
        with pytest.raises(SmartcarConnectionError):
            vehicle.odometer()
        assert len(mocked.calls) == 3

    def test_batch_is_retried_like_a_read(self, vehicle, mocked, sleeps):
        mocked.post(VEHICLE_URL + "/batch", status=503, body="")
        mocked.post(
            VEHICLE_URL + "/batch", json={"responses": [{"path": "/vin", "code": 200, "body": {"vin": "V"}}]}
        )
        assert vehicle.batch(["/vin"]).result("/vin").vin == "V"
        assert len(sleeps) == 1

    def test_module_reads_are_retried(self, transport, mocked, sleeps):
        mocked.get(f"{API}/vehicles", status=502, body="")
        mocked.get(f"{API}/vehicles", json={"vehicles": ["a"], "paging": {"count": 1, "offset": 0}})
        assert get_vehicles(ACCESS_TOKEN, transport=transport).vehicles == ["a"]
        assert len(sleeps) == 1


class TestNotRetried:
    @pytest.mark.parametrize("status", [400, 401, 403, 404, 409])
    def test_client_errors(self, vehicle, mocked, sleeps, status):
        mocked.get(ODOMETER_URL, status=status, json=v2_error(status, "VALIDATION"))
        with pytest.raises(SmartcarException):
            vehicle.odometer()
        assert len(mocked.calls) == 1
        assert sleeps == []

    def test_server_error_500(self, vehicle, mocked, sleeps):
        mocked.get(ODOMETER_URL, status=500, json=v2_error(500, "SERVER"))
        with pytest.raises(ServerException):
            vehicle.odometer()
        assert len(mocked.calls) == 1

    @pytest.mark.parametrize(
        ("method", "args", "http_method", "path"),
        [
            ("lock", (), "POST", "/security"),
            ("unlock", (), "POST", "/security"),
            ("start_charge", (), "POST", "/charge"),
            ("stop_charge", (), "POST", "/charge"),
            ("set_charge_limit", (0.7,), "POST", "/charge/limit"),
            ("send_destination", (1.0, 2.0), "POST", "/navigation/destination"),
            ("disconnect", (), "DELETE", "/application"),
        ],
    )
    @pytest.mark.parametrize(
        "failure",
        [
            {"status": 503, "body": ""},
            {"status": 429, "json": RATE_LIMIT, "headers": {"Retry-After": "1"}},
            {"body": requests.ConnectionError("reset")},
            {"body": requests.ReadTimeout("slow")},
        ],
    )
    def test_commands(self, vehicle, mocked, sleeps, method, args, http_method, path, failure):
        mocked.add(http_method, VEHICLE_URL + path, **failure)
        with pytest.raises(SmartcarException):
            getattr(vehicle, method)(*args)
        assert len(mocked.calls) == 1
        assert sleeps == []

    def test_generic_post_request(self, vehicle, mocked, sleeps):
        mocked.post(VEHICLE_URL + "/custom", status=503, body="")
        with pytest.raises(SmartcarException):
            vehicle.request("POST", "custom", body={})
        assert len(mocked.calls) == 1


class TestPolicy:
    def test_backoff_doubles_up_to_the_maximum_with_jitter(self):
        low = RetryPolicy(max_attempts=10, backoff=1.0, max_backoff=4.0, jitter=lambda: 0.0)
        high = RetryPolicy(max_attempts=10, backoff=1.0, max_backoff=4.0, jitter=lambda: 0.999)
        error = UpstreamException("x", status_code=502)
        assert [low.delay_before_retry(n, error) for n in range(1, 6)] == [0.5, 1.0, 2.0, 2.0, 2.0]
        highs = [high.delay_before_retry(n, error) for n in range(1, 6)]
        assert highs == pytest.approx([0.9995, 1.999, 3.998, 3.998, 3.998])

    def test_default_jitter_stays_within_bounds(self):
        policy = RetryPolicy()
        error = SmartcarTimeout("slow")
        delays = {policy.delay_before_retry(2, error) for _ in range(50)}
        assert all(0.5 <= delay <= 1.0 for delay in delays)
        assert len(delays) > 1

    def test_no_retry_once_attempts_are_used(self):
        assert RetryPolicy(max_attempts=2).delay_before_retry(2, SmartcarTimeout("slow")) is None

    def test_invalid_policy(self):
        with pytest.raises(ValueError):
            RetryPolicy(max_attempts=0)
        with pytest.raises(ValueError):
            RetryPolicy(backoff=-1)


class TestTransport:
    def test_pooled_session(self):
        with Transport() as transport:
            adapter = transport.session.get_adapter("https://api.smartcar.com")
            assert isinstance(adapter, HTTPAdapter)
            assert adapter._pool_maxsize >= 10

    def test_timeout_is_sent_on_every_request(self, mocked):
        with Transport(timeout=(1.5, 4.0)) as transport:
            mocked.get(ODOMETER_URL, json={"distance": 1})
            transport.send("GET", ODOMETER_URL)
        assert mocked.calls[0].request.req_kwargs["timeout"] == (1.5, 4.0)

    def test_cookies_are_never_kept(self, transport, mocked):
        mocked.get(ODOMETER_URL, json={"distance": 1}, headers={"Set-Cookie": "session=abc; Path=/"})
        mocked.get(ODOMETER_URL, json={"distance": 2})
        transport.send("GET", ODOMETER_URL)
        transport.send("GET", ODOMETER_URL)
        assert "Cookie" not in mocked.calls[1].request.headers
        assert len(transport.session.cookies) == 0

    def test_user_agent(self, mocked):
        with Transport(user_agent="my-app/1.0") as transport:
            mocked.get(ODOMETER_URL, json={})
            transport.send("GET", ODOMETER_URL)
        assert mocked.calls[0].request.headers["User-Agent"] == "my-app/1.0"

    def test_given_session_is_not_closed(self):
        session = requests.Session()
        closed = []
        session.close = lambda: closed.append(True)
        Transport(session=session).close()
        assert closed == []

    def test_origins_read_from_env_at_call_time(self, monkeypatch):
        transport = Transport()
        monkeypatch.setenv("SMARTCAR_API_ORIGIN", "http://127.0.0.1:7001")
        assert transport.origins.api == "http://127.0.0.1:7001"
        monkeypatch.setenv("SMARTCAR_API_ORIGIN", "http://127.0.0.1:7002")
        assert transport.origins.api == "http://127.0.0.1:7002"

    def test_empty_success_body_is_an_empty_object(self, transport, mocked):
        mocked.delete(VEHICLE_URL + "/application", status=204)
        assert transport.send("DELETE", VEHICLE_URL + "/application").body == {}
