"""The retry policy: never repeat a call Smartcar may have run and billed without cause.

Reads are retried on transient failures, but only once after a time-out (or anything else that may have run);
commands and token exchanges only when the request never left. Time-outs are per class of call.
"""

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError

from django_smartcar.client import (
    GatewayTimeoutException,
    RateLimitingException,
    RetryPolicy,
    ServerException,
    SmartcarConnectionError,
    SmartcarException,
    SmartcarTimeout,
    Timeouts,
    Transport,
    UpstreamException,
    Vehicle,
    get_connections,
    get_vehicles,
)
from django_smartcar.client.auth import AuthClient
from tests.processes import free_port

from .conftest import ACCESS_TOKEN, API, MANAGEMENT, ORIGINS, VEHICLE_ID, VEHICLE_URL, v2_error

ODOMETER_URL = VEHICLE_URL + "/odometer"
RATE_LIMIT = v2_error(429, "RATE_LIMIT", "VEHICLE", "Slow down.")


def refused():
    """What requests raises when the connection is refused: nothing was sent."""
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.ConnectionError(MaxRetryError(None, "/", reason=reason))


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

    def test_connection_errors_then_success(self, vehicle, mocked, sleeps):
        mocked.get(ODOMETER_URL, body=refused())
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

    def test_refused_connections_exhausted(self, vehicle, mocked):
        mocked.get(ODOMETER_URL, body=refused())
        with pytest.raises(SmartcarConnectionError) as caught:
            vehicle.odometer()
        assert caught.value.request_sent is False
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


class TestAtMostOneRetryAfterATimeOut:
    """A read that timed out may have reached the car and been billed: one more try, never a third."""

    @pytest.mark.parametrize(
        ("first", "second"),
        [
            ({"body": requests.ReadTimeout("slow")}, {"body": requests.ReadTimeout("slow")}),
            ({"status": 504, "body": ""}, {"body": requests.ReadTimeout("slow")}),
            ({"body": requests.ReadTimeout("slow")}, {"status": 504, "body": ""}),
            ({"body": requests.ConnectionError("reset")}, {"body": requests.ReadTimeout("slow")}),
        ],
        ids=["timeout-timeout", "504-timeout", "timeout-504", "reset-timeout"],
    )
    def test_a_read_gives_up_after_its_second_time_out(self, vehicle, mocked, sleeps, first, second):
        mocked.get(ODOMETER_URL, **first)
        mocked.get(ODOMETER_URL, **second)
        with pytest.raises(SmartcarException):
            vehicle.odometer()
        assert len(mocked.calls) == 2
        assert len(sleeps) == 1

    def test_a_batch_too(self, vehicle, mocked, sleeps):
        mocked.post(VEHICLE_URL + "/batch", body=requests.ReadTimeout("slow"))
        mocked.post(VEHICLE_URL + "/batch", body=requests.ReadTimeout("slow"))
        with pytest.raises(SmartcarTimeout):
            vehicle.batch(["/odometer"])
        assert len(mocked.calls) == 2

    def test_other_failures_still_use_the_remaining_attempts(self, vehicle, mocked, sleeps):
        mocked.get(ODOMETER_URL, body=requests.ReadTimeout("slow"))
        mocked.get(ODOMETER_URL, status=503, body="")
        mocked.get(ODOMETER_URL, json={"distance": 14})
        assert vehicle.odometer().distance == 14
        assert len(mocked.calls) == 3

    def test_the_limit_is_configurable(self, mocked, sleeps):
        policy = RetryPolicy(max_attempts=5, max_timeout_retries=0, sleep=sleeps.append)
        with Transport(origins=ORIGINS, retry=policy) as transport:
            mocked.get(ODOMETER_URL, body=requests.ReadTimeout("slow"))
            with pytest.raises(SmartcarTimeout):
                Vehicle(VEHICLE_ID, ACCESS_TOKEN, transport=transport).odometer()
        assert len(mocked.calls) == 1


class TestSentAgainWhenNeverSent:
    """A refused connection (or one never set up in time) sent nothing: even a command is safe to send."""

    @pytest.mark.parametrize("failure", [refused(), requests.ConnectTimeout("no connection")])
    def test_a_command(self, vehicle, mocked, sleeps, failure):
        mocked.post(VEHICLE_URL + "/security", body=failure)
        mocked.post(VEHICLE_URL + "/security", json={"status": "success", "message": "Locked"})
        assert vehicle.lock().status == "success"
        assert len(mocked.calls) == 2
        assert len(sleeps) == 1

    def test_a_token_exchange(self, mocked, sleeps, transport):
        auth = AuthClient("id", "secret", "http://127.0.0.1/cb", transport=transport)
        mocked.post(ORIGINS.auth, body=refused())
        mocked.post(
            ORIGINS.auth,
            json={"access_token": "a", "refresh_token": "r", "expires_in": 7200, "token_type": "Bearer"},
        )
        assert auth.exchange_refresh_token("old-refresh").refresh_token == "r"
        assert len(mocked.calls) == 2

    def test_over_a_real_refused_connection(self, sleeps):
        closed = f"http://127.0.0.1:{free_port()}"
        policy = RetryPolicy(sleep=sleeps.append)
        with Transport(retry=policy) as transport, pytest.raises(SmartcarConnectionError) as caught:
            transport.send("POST", f"{closed}/v2.0/vehicles/x/security", json={"action": "LOCK"})
        assert caught.value.request_sent is False
        assert len(sleeps) == policy.max_attempts - 1


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

    @pytest.mark.parametrize(
        "failure",
        [
            {"status": 502, "body": ""},
            {"body": requests.ReadTimeout("slow")},
            {"body": requests.ConnectionError("reset")},
        ],
    )
    def test_token_exchanges(self, mocked, sleeps, transport, failure):
        auth = AuthClient("id", "secret", "http://127.0.0.1/cb", transport=transport)
        mocked.post(ORIGINS.auth, **failure)
        with pytest.raises(SmartcarException):
            auth.exchange_refresh_token("old-refresh")
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


class TestTimeoutsPerCallClass:
    def test_defaults_fit_smartcar(self):
        # Vehicle requests take up to 300 s (the official SDKs wait 310 s); the token endpoint and the
        # management API never reach a car.
        assert Timeouts() == Timeouts(token=20.0, read=310.0, command=310.0, management=30.0)
        with Transport() as transport:
            assert transport.timeouts == Timeouts()

    def test_each_call_gets_its_class_time_out(self, mocked):
        timeouts = Timeouts(token=1.0, read=2.0, command=3.0, management=(0.5, 4.0))
        with Transport(origins=ORIGINS, timeouts=timeouts) as transport:
            vehicle = Vehicle(VEHICLE_ID, ACCESS_TOKEN, transport=transport)
            mocked.get(ODOMETER_URL, json={"distance": 1})
            mocked.post(
                VEHICLE_URL + "/batch",
                json={"responses": [{"path": "/odometer", "code": 200, "body": {"distance": 1}}]},
            )
            mocked.post(VEHICLE_URL + "/security", json={"status": "success"})
            mocked.get(f"{API}/vehicles", json={"vehicles": [], "paging": {"count": 0, "offset": 0}})
            mocked.get(f"{MANAGEMENT}/connections/", json={"connections": [], "paging": {"cursor": None}})
            mocked.post(
                ORIGINS.auth,
                json={"access_token": "a", "refresh_token": "r", "expires_in": 7200, "token_type": "Bearer"},
            )
            vehicle.odometer()
            vehicle.batch(["/odometer"])
            vehicle.lock()
            get_vehicles(ACCESS_TOKEN, transport=transport)
            get_connections("amt", transport=transport)
            AuthClient("id", "secret", "http://127.0.0.1/cb", transport=transport).exchange_code("code")
        sent = [call.request.req_kwargs["timeout"] for call in mocked.calls]
        assert sent == [2.0, 2.0, 3.0, 2.0, (0.5, 4.0), 1.0]

    def test_one_timeout_still_sets_every_class(self, mocked):
        with Transport(timeout=4.0) as transport:
            assert transport.timeouts == Timeouts.every(4.0)
            assert transport.timeout == 4.0
        with pytest.raises(ValueError, match="not both"):
            Transport(timeout=4.0, timeouts=Timeouts())

    @pytest.mark.parametrize("bad", [0, -1, "10", True, (1.0, 2.0, 3.0), ()])
    def test_invalid_time_outs(self, bad):
        with pytest.raises(ValueError, match=r"Timeouts\.read"):
            Timeouts(read=bad)

    def test_scaled(self):
        assert Timeouts(token=20, read=310, command=(10, 300), management=30).scaled(0.01) == Timeouts(
            token=0.2, read=3.1, command=(0.1, 3.0), management=0.3
        )


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
