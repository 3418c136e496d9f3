"""The Vehicle API V3 client: URLs, headers, paging, commands' two outcomes, the 401 resend and the retry rule."""

import json
import socket
import threading

import pytest
import requests
from responses import matchers

from django_smartcar import client as smartcar
from django_smartcar.client import (
    AuthenticationException,
    RateLimitingException,
    ResourceNotFoundException,
    RetryPolicy,
    SmartcarTimeout,
    Transport,
    UpstreamException,
    v3,
)

from .conftest import (
    ACCESS_TOKEN,
    IAM_TOKEN_URL,
    ORIGINS,
    VEHICLE_ID,
    VEHICLE_V3,
    jsonapi_error,
)

APP_TOKEN = "app-token-secret-0001"
USER_ID = "1e25-user"
VEHICLE_URL = f"{VEHICLE_V3}/vehicles/{VEHICLE_ID}"
APP_HEADERS = {"Authorization": f"Bearer {APP_TOKEN}", "sc-user-id": USER_ID}

SIGNAL = {
    "id": "odometer-traveleddistance",
    "type": "signal",
    "attributes": {
        "code": "odometer-traveleddistance",
        "name": "TraveledDistance",
        "group": "Odometer",
        "status": {"value": "SUCCESS"},
        "body": {"unit": "kilometers", "value": 115071.5},
    },
    "meta": {"retrievedAt": 1752104218549, "oemUpdatedAt": 1752104118549},
    "links": {"self": f"/vehicles/{VEHICLE_ID}/signals/odometer-traveleddistance"},
}
SIGNALS = {
    "data": [SIGNAL],
    "meta": {"page": 1, "pageSize": 1, "totalCount": 1},
    "links": {"self": f"/vehicles/{VEHICLE_ID}/signals"},
    "included": {
        "vehicle": {
            "id": VEHICLE_ID,
            "type": "vehicle",
            "attributes": {"make": "TESLA", "model": "Model 3", "year": 2022, "powertrainType": "BEV"},
        }
    },
}
VEHICLE = {
    "data": {
        "id": VEHICLE_ID,
        "type": "vehicle",
        "attributes": {
            "make": "Toyota",
            "model": "Camry",
            "year": 2020,
            "powertrainType": "ICE",
            "mode": "live",
        },
        "links": {"self": f"/vehicles/{VEHICLE_ID}"},
    }
}


def connection(number, user=USER_ID):
    return {
        "id": f"conn-{number}",
        "type": "connection",
        "attributes": {
            "permissions": ["read_vehicle_info", "read_odometer"],
            "vehicle": {
                "make": "Tesla",
                "model": "Model S",
                "year": 2020,
                "mode": "live",
                "powertrainType": "BEV",
            },
        },
        "relationships": {
            "vehicle": {"data": {"id": f"vehicle-{number}", "type": "vehicle"}, "links": {"related": "..."}},
            "user": {"data": {"id": user, "type": "user"}},
        },
        "meta": {"createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-02T00:00:00Z"},
        "links": {"self": f"/connections/conn-{number}"},
    }


def execution(command_type="security-lock", mode="sync", parameters=None):
    return {
        "data": {
            "id": "exec_9876543210",
            "type": "command-execution",
            "attributes": {
                "commandType": command_type,
                "status": {"value": "SUCCESS"},
                "executionMode": mode,
                "parameters": parameters or {},
            },
            "meta": {
                "executedAt": "2024-01-01T12:00:00Z",
                "completedAt": "2024-01-01T12:00:02Z",
                "durationInSeconds": 2,
            },
        }
    }


def no_body(request):
    return request.body in (None, b"", ""), "the request has a body"


@pytest.fixture
def api(transport):
    return v3.VehicleApi(APP_TOKEN, transport=transport)


class TestConnections:
    def test_list_with_every_filter_and_paging(self, api, mocked):
        mocked.get(
            f"{VEHICLE_V3}/connections",
            json={
                "data": [connection(1)],
                "meta": {"totalCount": 7},
                "links": {"next": "/connections?page[number]=3"},
            },
            match=[
                matchers.query_param_matcher(
                    {
                        "filter[userId]": USER_ID,
                        "filter[vehicleId]": "vehicle-1",
                        "filter[vehicle.mode]": "simulated",
                        "filter[user.externalId]": "ext-9",
                        "page[number]": "2",
                        "page[size]": "5",
                    }
                ),
                matchers.header_matcher({"Authorization": f"Bearer {APP_TOKEN}"}),
            ],
        )
        page = api.list_connections(
            user_id=USER_ID,
            vehicle_id="vehicle-1",
            mode="simulated",
            external_id="ext-9",
            page=2,
            page_size=5,
        )
        assert (page.page, page.page_size, page.total_count, page.has_next) == (2, 5, 7, True)
        assert [item.id for item in page] == ["conn-1"]
        assert page["links"]["next"] == "/connections?page[number]=3"
        assert "sc-user-id" not in mocked.calls[0].request.headers

    def test_default_sends_the_first_page_only(self, api, mocked):
        mocked.get(
            f"{VEHICLE_V3}/connections",
            json={"data": []},
            match=[matchers.query_param_matcher({"page[number]": "1"})],
        )
        page = api.list_connections()
        assert (len(page), page.total_count, page.has_next) == (0, None, False)

    def test_iter_connections_follows_links_next(self, api, mocked):
        for number, next_link in (
            (1, "/connections?page[number]=2"),
            (2, "/connections?page[number]=3"),
            (3, None),
        ):
            mocked.get(
                f"{VEHICLE_V3}/connections",
                json={"data": [connection(number)], "links": {"next": next_link}},
                match=[
                    matchers.query_param_matcher({"page[number]": str(number), "filter[userId]": USER_ID})
                ],
            )
        assert [item.id for item in api.iter_connections(user_id=USER_ID)] == ["conn-1", "conn-2", "conn-3"]

    def test_iter_connections_by_total_count_without_links(self, api, mocked):
        for number, items in ((1, [connection(1), connection(2)]), (2, [connection(3)])):
            mocked.get(
                f"{VEHICLE_V3}/connections",
                json={"data": items, "meta": {"page": number, "pageSize": 2, "totalCount": 3}},
                match=[matchers.query_param_matcher({"page[number]": str(number), "page[size]": "2"})],
            )
        assert [item.id for item in api.iter_connections(page_size=2)] == ["conn-1", "conn-2", "conn-3"]

    @pytest.mark.parametrize(("page", "page_size"), [(0, None), (1, 0), (True, None), ("1", None)])
    def test_bad_paging_is_refused_before_sending(self, api, page, page_size):
        with pytest.raises(ValueError):
            api.list_connections(page=page, page_size=page_size)

    def test_get_connection(self, api, mocked):
        mocked.get(f"{VEHICLE_V3}/connections/conn%2F1", json={"data": connection(1)})
        found = api.get_connection("conn/1")
        assert (found.id, found.user_id, found.vehicle_id) == ("conn-1", USER_ID, "vehicle-1")
        assert found["data"]["attributes"]["permissions"] == ["read_vehicle_info", "read_odometer"]

    def test_delete_connection_and_user(self, api, mocked):
        mocked.delete(f"{VEHICLE_V3}/connections/conn-1", status=204)
        mocked.delete(f"{VEHICLE_V3}/users/{USER_ID}", status=204)
        assert api.delete_connection("conn-1") is None
        assert api.delete_user(USER_ID) is None

    def test_a_delete_is_not_resent_after_a_time_out(self, api, mocked):
        mocked.delete(f"{VEHICLE_V3}/users/{USER_ID}", body=requests.ReadTimeout("slow"))
        with pytest.raises(SmartcarTimeout):
            api.delete_user(USER_ID)
        assert len(mocked.calls) == 1


class TestVehicleAndSignals:
    def test_get_vehicle(self, api, mocked):
        mocked.get(VEHICLE_URL, json=VEHICLE, headers={"SC-Request-Id": "req-9"})
        info = api.get_vehicle(VEHICLE_ID)
        assert (info.id, info.make, info.model, info.year, info.powertrain_type, info.mode) == (
            VEHICLE_ID,
            "Toyota",
            "Camry",
            2020,
            "ICE",
            "live",
        )
        assert info["data"]["attributes"]["make"] == "Toyota"
        assert info.request_id == "req-9"
        assert "sc-user-id" not in mocked.calls[0].request.headers

    def test_get_signals_sends_the_user_and_the_unit_system(self, transport, mocked):
        mocked.get(
            f"{VEHICLE_URL}/signals",
            json=SIGNALS,
            match=[matchers.header_matcher({**APP_HEADERS, "SC-Unit-System": "imperial"})],
        )
        signals = v3.VehicleApi(APP_TOKEN, transport=transport, unit_system="imperial").get_signals(
            VEHICLE_ID, USER_ID
        )
        assert signals.codes == ["odometer-traveleddistance"]
        assert signals.vehicle.make == "TESLA"
        assert signals["data"][0]["attributes"]["body"]["value"] == 115071.5

    def test_get_signal_quotes_the_code(self, api, mocked):
        mocked.get(
            f"{VEHICLE_URL}/signals/closure-islocked",
            json={
                **SIGNAL,
                "id": "closure-islocked",
                "attributes": {**SIGNAL["attributes"], "code": "closure-islocked"},
            },
            match=[matchers.header_matcher(APP_HEADERS)],
        )
        assert api.get_signal(VEHICLE_ID, "closure-islocked", USER_ID).code == "closure-islocked"

    def test_an_unknown_signal_is_not_found(self, api, mocked):
        mocked.get(
            f"{VEHICLE_URL}/signals/nope-nothing",
            status=404,
            json=jsonapi_error(404, "RESOURCE_NOT_FOUND", "PATH", "Unknown signal."),
        )
        with pytest.raises(ResourceNotFoundException):
            api.get_signal(VEHICLE_ID, "nope-nothing", USER_ID)

    def test_reads_are_retried_per_the_transports_rule(self, api, mocked, sleeps):
        mocked.get(f"{VEHICLE_URL}/signals", status=502, json=jsonapi_error(502, "UPSTREAM", "UNKNOWN_ISSUE"))
        mocked.get(f"{VEHICLE_URL}/signals", body=requests.ReadTimeout("slow"))
        mocked.get(f"{VEHICLE_URL}/signals", json=SIGNALS)
        assert len(api.get_signals(VEHICLE_ID, USER_ID)) == 1
        assert len(mocked.calls) == 3

    def test_a_read_times_out_at_most_twice(self, api, mocked):
        mocked.get(f"{VEHICLE_URL}/signals", body=requests.ReadTimeout("slow"))
        mocked.get(f"{VEHICLE_URL}/signals", body=requests.ReadTimeout("slow"))
        with pytest.raises(SmartcarTimeout):
            api.get_signals(VEHICLE_ID, USER_ID)
        assert len(mocked.calls) == 2

    def test_an_empty_user_id_is_refused(self, api):
        with pytest.raises(ValueError):
            api.get_signals(VEHICLE_ID, "")
        with pytest.raises(ValueError):
            api.get_signals("", USER_ID)

    def test_a_bad_unit_system(self):
        with pytest.raises(ValueError):
            v3.VehicleApi(APP_TOKEN, unit_system="nautical")


COMMANDS = [
    ("lock", (), "security/lock", None),
    ("unlock", (), "security/unlock", None),
    ("start_charge", (), "charge/start", None),
    ("stop_charge", (), "charge/stop", None),
    ("set_charge_limit", (80,), "charge/set-limit", {"data": {"attributes": {"percent": 80}}}),
    (
        "set_destination",
        (61.11, 23.33),
        "navigation/set-destination",
        {"data": {"attributes": {"latitude": 61.11, "longitude": 23.33}}},
    ),
]


class TestCommands:
    @pytest.mark.parametrize(("method", "args", "path", "body"), COMMANDS)
    def test_each_command_posts_its_path_and_body(self, api, mocked, method, args, path, body):
        mocked.post(
            f"{VEHICLE_URL}/commands/{path}",
            json=execution(),
            match=[matchers.header_matcher(APP_HEADERS)]
            + ([matchers.json_params_matcher(body)] if body else [no_body]),
        )
        result = getattr(api, method)(VEHICLE_ID, USER_ID, *args)
        assert (result.status, result.succeeded, result.http_status) == ("SUCCESS", True, 200)

    @pytest.mark.parametrize(("method", "args", "path", "body"), COMMANDS)
    def test_user_vehicle_sends_the_same(self, api, mocked, method, args, path, body):
        mocked.post(
            f"{VEHICLE_URL}/commands/{path}", json=execution(), match=[matchers.header_matcher(APP_HEADERS)]
        )
        car = api.vehicle(VEHICLE_ID, USER_ID)
        assert getattr(car, method)(*args).succeeded

    def test_a_202_carries_the_final_result(self, api, mocked):
        mocked.post(
            f"{VEHICLE_URL}/commands/charge/set-limit",
            status=202,
            json=execution("charge-set-limit", "async", {"percent": 80}),
        )
        result = api.set_charge_limit(VEHICLE_ID, USER_ID, 80)
        assert (result.http_status, result.execution_mode, result.parameters) == (
            202,
            "async",
            {"percent": 80},
        )
        assert result.succeeded

    @pytest.mark.parametrize(
        "failure",
        [
            requests.ReadTimeout("slow"),
            requests.ConnectionError("reset"),
        ],
    )
    def test_a_command_is_never_resent_after_it_may_have_run(self, api, mocked, failure):
        mocked.post(f"{VEHICLE_URL}/commands/security/lock", body=failure)
        with pytest.raises(smartcar.SmartcarConnectionError):
            api.lock(VEHICLE_ID, USER_ID)
        assert len(mocked.calls) == 1

    @pytest.mark.parametrize(
        ("status", "error_type", "cls"),
        [(502, "UPSTREAM", UpstreamException), (429, "RATE_LIMIT", RateLimitingException)],
    )
    def test_a_command_is_not_resent_after_an_error(self, api, mocked, status, error_type, cls):
        mocked.post(
            f"{VEHICLE_URL}/commands/security/unlock", status=status, json=jsonapi_error(status, error_type)
        )
        with pytest.raises(cls):
            api.unlock(VEHICLE_ID, USER_ID)
        assert len(mocked.calls) == 1

    @pytest.mark.parametrize(
        ("method", "args"),
        [
            ("set_charge_limit", (0.8,)),
            ("set_charge_limit", (101,)),
            ("set_charge_limit", ("80",)),
            ("set_destination", (91, 0)),
            ("set_destination", (0, -181)),
            ("set_destination", (True, 0)),
        ],
    )
    def test_bad_parameters_are_refused_before_sending(self, api, method, args):
        with pytest.raises(ValueError):
            getattr(api, method)(VEHICLE_ID, USER_ID, *args)

    def test_commands_need_a_user(self, api):
        with pytest.raises(ValueError):
            api.lock(VEHICLE_ID, None)
        with pytest.raises(ValueError):
            v3.UserVehicle(VEHICLE_ID, "", api)

    def test_send_command_takes_any_path(self, api, mocked):
        mocked.post(
            f"{VEHICLE_URL}/commands/charge-schedules/daily",
            json=execution("charge-schedule"),
            match=[matchers.json_params_matcher({"data": {"attributes": {"time": "06:00"}}})],
        )
        assert api.send_command(VEHICLE_ID, USER_ID, "/charge-schedules/daily", {"time": "06:00"}).succeeded


class SlowCommandServer:
    """A local server answering one POST with a 202 and no Content-Length: the body ends when it closes."""

    def __init__(self, body):
        self.body = body
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.request = b""
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conn, _ = self.server.accept()
        with conn:
            while b"\r\n\r\n" not in self.request:
                self.request += conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
            )
            conn.sendall(self.body[:20])
            conn.sendall(self.body[20:])
        self.server.close()


def test_a_202_without_content_length_is_read_to_the_end():
    server = SlowCommandServer(json.dumps(execution("security-unlock", "async")).encode())
    origins = smartcar.Origins(vehicle_v3=f"http://127.0.0.1:{server.port}")
    with Transport(origins=origins, timeout=5, retry=RetryPolicy(max_attempts=1)) as transport:
        result = v3.VehicleApi(APP_TOKEN, transport=transport).unlock(VEHICLE_ID, USER_ID)
    server.thread.join(5)
    assert (result.http_status, result.command_type, result.succeeded) == (202, "security-unlock", True)
    assert server.request.startswith(f"POST /v3/vehicles/{VEHICLE_ID}/commands/security/unlock ".encode())
    assert f"sc-user-id: {USER_ID}".encode() in server.request


class TestApplicationTokenRenewal:
    @pytest.fixture
    def token(self, transport, mocked):
        mocked.post(IAM_TOKEN_URL, json={"access_token": "first-token", "expires_in": 3600})
        mocked.post(IAM_TOKEN_URL, json={"access_token": "second-token", "expires_in": 3600})
        return v3.ApplicationToken("client_x", "secret-x", transport=transport)

    def test_a_401_gets_a_new_token_and_resends_a_command_once(self, transport, mocked, token):
        url = f"{VEHICLE_URL}/commands/security/lock"
        mocked.post(
            url,
            status=401,
            json=jsonapi_error(401, "AUTHENTICATION"),
            match=[matchers.header_matcher({"Authorization": "Bearer first-token"})],
        )
        mocked.post(
            url,
            json=execution(),
            match=[matchers.header_matcher({"Authorization": "Bearer second-token", "sc-user-id": USER_ID})],
        )
        assert v3.VehicleApi(token, transport=transport).lock(VEHICLE_ID, USER_ID).succeeded
        assert [call.request.url for call in mocked.calls].count(url) == 2
        assert token.get() == "second-token"

    def test_a_second_401_is_raised(self, transport, mocked, token):
        mocked.get(f"{VEHICLE_URL}/signals", status=401, json=jsonapi_error(401, "AUTHENTICATION"))
        mocked.get(f"{VEHICLE_URL}/signals", status=401, json=jsonapi_error(401, "AUTHENTICATION"))
        with pytest.raises(AuthenticationException) as caught:
            v3.VehicleApi(token, transport=transport).get_signals(VEHICLE_ID, USER_ID)
        assert "second-token" not in str(caught.value)
        assert len(mocked.calls) == 4  # two tokens, two reads

    def test_a_plain_token_string_is_not_resent(self, transport, mocked):
        mocked.get(f"{VEHICLE_URL}/signals", status=401, json=jsonapi_error(401, "AUTHENTICATION"))
        with pytest.raises(AuthenticationException):
            v3.VehicleApi("fixed-token", transport=transport).get_signals(VEHICLE_ID, USER_ID)
        assert len(mocked.calls) == 1

    def test_a_callable_token_is_asked_per_request(self, transport, mocked):
        tokens = iter(["one", "two"])
        for value in ("one", "two"):
            mocked.get(
                VEHICLE_URL,
                json=VEHICLE,
                match=[matchers.header_matcher({"Authorization": f"Bearer {value}"})],
            )
        api = v3.VehicleApi(lambda: next(tokens), transport=transport)
        api.get_vehicle(VEHICLE_ID)
        api.get_vehicle(VEHICLE_ID)

    def test_no_token_at_all(self):
        with pytest.raises(ValueError):
            v3.VehicleApi("")


class TestOfficialSdkForms:
    """Code written for the official SDK 6.x's V3 calls works on this client's ``Vehicle`` and module."""

    def test_vehicle_get_signals_with_the_users_access_token(self, transport, mocked):
        mocked.get(
            f"{VEHICLE_URL}/signals",
            json=SIGNALS,
            headers={"SC-Request-Id": "req-1"},
            match=[
                matchers.header_matcher(
                    {"Authorization": f"Bearer {ACCESS_TOKEN}", "SC-Unit-System": "metric"}
                ),
                matchers.query_param_matcher({}),
            ],
        )
        response = smartcar.Vehicle(VEHICLE_ID, ACCESS_TOKEN, transport=transport).get_signals()
        # The SDK's v3 Response: {"body": ..., "headers": ...}
        assert response["body"] == SIGNALS
        assert response["headers"]["sc-request-id"] == "req-1"
        assert response["body"]["data"][0]["attributes"]["code"] == "odometer-traveleddistance"
        assert "sc-user-id" not in mocked.calls[0].request.headers
        # ... and our typed result.
        assert response.get("odometer-traveleddistance").value == 115071.5

    def test_vehicle_get_signal_with_flags_and_units(self, mocked):
        mocked.get(
            f"{VEHICLE_URL}/signals/odometer-traveleddistance",
            json=SIGNAL,
            match=[
                matchers.header_matcher(
                    {"Authorization": f"Bearer {ACCESS_TOKEN}", "SC-Unit-System": "imperial"}
                ),
                matchers.query_param_matcher({"flags": "country:DE"}),
            ],
        )
        with Transport(origins=ORIGINS) as transport:
            vehicle = smartcar.Vehicle(
                VEHICLE_ID,
                ACCESS_TOKEN,
                {"unit_system": "imperial", "flags": {"country": "DE"}},
                transport=transport,
            )
            signal = vehicle.get_signal("odometer-traveleddistance")
        assert signal["body"] == SIGNAL
        assert signal["body"]["attributes"]["body"]["value"] == 115071.5
        assert (signal.code, signal.value, signal.unit) == ("odometer-traveleddistance", 115071.5, "km")

    def test_module_get_vehicle(self, transport, mocked):
        mocked.get(
            VEHICLE_URL,
            json=VEHICLE,
            match=[matchers.header_matcher({"Authorization": f"Bearer {ACCESS_TOKEN}"})],
        )
        response = smartcar.get_vehicle(ACCESS_TOKEN, VEHICLE_ID, transport=transport)
        assert response["body"]["data"]["attributes"]["model"] == "Camry"
        assert set(response) >= {"body", "headers"}
        assert response.make == "Toyota"

    def test_the_v3_origin_comes_from_the_sdks_environment_variable(self, monkeypatch, mocked):
        monkeypatch.setenv("SMARTCAR_VEHICLE_API_V3_ORIGIN", "http://127.0.0.1:8199")
        mocked.get(f"http://127.0.0.1:8199/v3/vehicles/{VEHICLE_ID}", json=VEHICLE)
        with Transport(retry=RetryPolicy(max_attempts=1)) as transport:
            assert smartcar.get_vehicle(ACCESS_TOKEN, VEHICLE_ID, transport=transport).id == VEHICLE_ID


def test_nothing_shows_a_token(transport):
    api = v3.VehicleApi(APP_TOKEN, transport=transport)
    car = api.vehicle(VEHICLE_ID, USER_ID)
    for text in (repr(api), str(api), repr(car), repr(v3.ManagementApi(APP_TOKEN))):
        assert APP_TOKEN not in text


def test_a_quoted_token_never_reaches_the_retry_log(api, mocked, caplog):
    quoting = jsonapi_error(502, "UPSTREAM", "UNKNOWN_ISSUE", f"Upstream refused Bearer {APP_TOKEN}")
    mocked.get(f"{VEHICLE_URL}/signals", status=502, json=quoting)
    mocked.get(f"{VEHICLE_URL}/signals", status=502, json=quoting)
    mocked.get(f"{VEHICLE_URL}/signals", status=502, json=quoting)
    with (
        caplog.at_level("WARNING", logger="django_smartcar.client"),
        pytest.raises(UpstreamException) as caught,
    ):
        api.get_signals(VEHICLE_ID, USER_ID)
    assert "retry 1/2" in caplog.text
    assert APP_TOKEN not in caplog.text + str(caught.value) + repr(caught.value.errors)


def test_iterating_stops_when_the_page_number_is_ignored(api, mocked):
    # A server that answers page 1 whatever is asked, always with a next link, must not loop forever.
    for _ in range(2):
        mocked.get(
            f"{VEHICLE_V3}/connections",
            json={
                "data": [connection(1)],
                "meta": {"page": 1},
                "links": {"next": "/connections?page[number]=2"},
            },
        )
    assert [item.id for item in api.iter_connections()] == ["conn-1", "conn-1"]
