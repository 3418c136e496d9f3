"""Vehicle: every call's method, URL, headers and body, and the shape of what comes back."""

import json
from datetime import datetime, timezone

import pytest
from responses import matchers

from django_smartcar.client import (
    InvalidResponseException,
    Odometer,
    PermissionException,
    RateLimitingException,
    Result,
    Vehicle,
    VehicleStateException,
)

from .conftest import ACCESS_TOKEN, API, OTHER_TOKEN, VEHICLE_ID, VEHICLE_URL, v2_error

DATA_HEADERS = {
    "sc-request-id": "req-123",
    "sc-data-age": "2024-05-01T10:15:30.000Z",
    "sc-unit-system": "metric",
    "sc-fetched-at": "2024-05-01T10:15:31.500Z",
}


@pytest.fixture
def vehicle(transport):
    return Vehicle(VEHICLE_ID, ACCESS_TOKEN, transport=transport)


def sent_headers(mocked, index=-1):
    return mocked.calls[index].request.headers


READS = [
    (
        "attributes",
        "",
        {"id": VEHICLE_ID, "make": "TESLA", "model": "Model 3", "year": 2020},
        "make",
        "TESLA",
    ),
    ("info", "", {"id": VEHICLE_ID, "make": "TESLA", "model": "Model 3", "year": 2020}, "year", 2020),
    ("vin", "/vin", {"vin": "5YJ3E1EA7LF000001"}, "vin", "5YJ3E1EA7LF000001"),
    ("location", "/location", {"latitude": 48.85, "longitude": 2.35}, "longitude", 2.35),
    ("odometer", "/odometer", {"distance": 12345.6}, "distance", 12345.6),
    ("fuel", "/fuel", {"range": 400, "percentRemaining": 0.5, "amountRemaining": 20}, "amount_remaining", 20),
    ("battery", "/battery", {"range": 300, "percentRemaining": 0.8}, "percent_remaining", 0.8),
    ("battery_capacity", "/battery/capacity", {"capacity": 75.0}, "capacity", 75.0),
    ("charge", "/charge", {"isPluggedIn": True, "state": "CHARGING"}, "is_plugged_in", True),
    ("get_charge_limit", "/charge/limit", {"limit": 0.9}, "limit", 0.9),
    ("engine_oil", "/engine/oil", {"lifeRemaining": 0.35}, "life_remaining", 0.35),
    ("oil", "/engine/oil", {"lifeRemaining": 0.35}, "life_remaining", 0.35),
    (
        "tire_pressure",
        "/tires/pressure",
        {"frontLeft": 230, "frontRight": 231, "backLeft": 232, "backRight": 233},
        "back_right",
        233,
    ),
    (
        "lock_status",
        "/security",
        {"isLocked": True, "doors": [{"type": "frontLeft", "status": "LOCKED"}], "chargingPort": []},
        "doors",
        [{"type": "frontLeft", "status": "LOCKED"}],
    ),
]


class TestReads:
    @pytest.mark.parametrize(("method", "path", "body", "attribute", "value"), READS)
    def test_read(self, vehicle, mocked, method, path, body, attribute, value):
        mocked.get(VEHICLE_URL + path, json=body, headers=DATA_HEADERS)
        result = getattr(vehicle, method)()
        assert getattr(result, attribute) == value
        assert result.data == body
        headers = sent_headers(mocked)
        assert headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
        assert headers["sc-unit-system"] == "metric"

    def test_seed_shape_of_a_data_result(self, vehicle, mocked):
        mocked.get(VEHICLE_URL + "/odometer", json={"distance": 104.2}, headers=DATA_HEADERS)
        odometer = vehicle.odometer()
        assert odometer["data"]["distance"] == 104.2
        assert odometer["unit_system"] == "metric"
        assert odometer["age"] == datetime(2024, 5, 1, 10, 15, 30, tzinfo=timezone.utc)
        assert odometer.distance == 104.2

    def test_camel_case_keys_stay_reachable(self, vehicle, mocked):
        mocked.get(VEHICLE_URL + "/battery", json={"range": 300, "percentRemaining": 0.8})
        battery = vehicle.battery()
        assert battery["data"]["percentRemaining"] == 0.8
        assert battery.percent_remaining == 0.8

    def test_seed_shape_of_info_and_commands(self, vehicle, mocked):
        mocked.get(VEHICLE_URL, json={"id": VEHICLE_ID, "make": "FORD", "model": "F-150", "year": 2021})
        mocked.post(VEHICLE_URL + "/security", json={"status": "success", "message": "Locked"})
        assert vehicle.info()["make"] == "FORD"
        assert vehicle.lock()["status"] == "success"

    def test_meta_has_aware_datetimes(self, vehicle, mocked):
        mocked.get(VEHICLE_URL + "/odometer", json={"distance": 1}, headers=DATA_HEADERS)
        meta = vehicle.odometer().meta
        assert meta.request_id == "req-123"
        assert meta.unit_system == "metric"
        assert meta.data_age == datetime(2024, 5, 1, 10, 15, 30, tzinfo=timezone.utc)
        assert meta.fetched_at == datetime(2024, 5, 1, 10, 15, 31, 500000, tzinfo=timezone.utc)

    def test_meta_without_sc_headers(self, vehicle, mocked):
        mocked.get(VEHICLE_URL + "/vin", json={"vin": "X"})
        meta = vehicle.vin().meta
        assert (meta.request_id, meta.data_age, meta.unit_system, meta.fetched_at) == (None, None, None, None)

    def test_imperial_units_header(self, transport, mocked):
        vehicle = Vehicle(VEHICLE_ID, ACCESS_TOKEN, unit_system="imperial", transport=transport)
        mocked.get(VEHICLE_URL + "/odometer", json={"distance": 1})
        mocked.get(VEHICLE_URL + "/odometer", json={"distance": 2})
        vehicle.odometer()
        assert sent_headers(mocked)["sc-unit-system"] == "imperial"
        vehicle.set_unit_system("METRIC")
        vehicle.odometer()
        assert sent_headers(mocked)["sc-unit-system"] == "metric"

    def test_unknown_unit_system(self, vehicle):
        with pytest.raises(ValueError, match="metric"):
            vehicle.set_unit_system("nautical")
        with pytest.raises(ValueError, match="metric"):
            Vehicle(VEHICLE_ID, ACCESS_TOKEN, unit_system="si")

    def test_missing_field_is_an_invalid_response(self, vehicle, mocked):
        mocked.get(VEHICLE_URL + "/odometer", json={"miles": 3}, headers={"sc-request-id": "req-9"})
        with pytest.raises(InvalidResponseException, match="'distance'") as caught:
            vehicle.odometer()
        assert caught.value.request_id == "req-9"

    def test_vehicle_id_is_quoted_into_the_path(self, transport, mocked):
        mocked.get(f"{API}/vehicles/a%2Fb/vin", json={"vin": "X"})
        assert Vehicle("a/b", ACCESS_TOKEN, transport=transport).vin().vin == "X"

    def test_permissions_paging(self, vehicle, mocked):
        mocked.get(
            VEHICLE_URL + "/permissions",
            json={"permissions": ["read_vin"], "paging": {"count": 1, "offset": 5}},
            match=[matchers.query_param_matcher({"limit": "10", "offset": "5"})],
        )
        result = vehicle.permissions(limit=10, offset=5)
        assert result.permissions == ["read_vin"]
        assert result.paging.count == 1
        assert result["paging"]["offset"] == 5

    def test_has_permissions_reads_every_page(self, vehicle, mocked):
        mocked.get(
            VEHICLE_URL + "/permissions",
            json={"permissions": ["read_vin", "read_odometer"], "paging": {"count": 3, "offset": 0}},
            match=[matchers.query_param_matcher({})],
        )
        mocked.get(
            VEHICLE_URL + "/permissions",
            json={"permissions": ["control_security"], "paging": {"count": 3, "offset": 2}},
            match=[matchers.query_param_matcher({"offset": "2"})],
        )
        assert vehicle.has_permissions(["read_vin", "control_security"])

    def test_has_permissions_false_and_single_string(self, vehicle, mocked):
        mocked.get(
            VEHICLE_URL + "/permissions",
            json={"permissions": ["read_vin"], "paging": {"count": 1, "offset": 0}},
        )
        assert not vehicle.has_permissions("read_location")


class TestCommands:
    @pytest.mark.parametrize(
        ("method", "args", "http_method", "path", "body"),
        [
            ("lock", (), "POST", "/security", {"action": "LOCK"}),
            ("unlock", (), "POST", "/security", {"action": "UNLOCK"}),
            ("start_charge", (), "POST", "/charge", {"action": "START"}),
            ("stop_charge", (), "POST", "/charge", {"action": "STOP"}),
            ("set_charge_limit", (0.8,), "POST", "/charge/limit", {"limit": 0.8}),
            (
                "send_destination",
                (37.77, -122.42),
                "POST",
                "/navigation/destination",
                {"latitude": 37.77, "longitude": -122.42},
            ),
        ],
    )
    def test_command(self, vehicle, mocked, method, args, http_method, path, body):
        mocked.add(
            http_method,
            VEHICLE_URL + path,
            json={"status": "success", "message": "Done"},
            match=[matchers.json_params_matcher(body, strict_match=True)],
        )
        result = getattr(vehicle, method)(*args)
        assert (result.status, result.message) == ("success", "Done")
        headers = sent_headers(mocked)
        assert headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
        assert "sc-unit-system" not in headers

    def test_disconnect(self, vehicle, mocked):
        mocked.delete(VEHICLE_URL + "/application", json={"status": "success"})
        assert vehicle.disconnect().status == "success"

    @pytest.mark.parametrize("limit", [0, 1.5, -0.2, "0.8", True])
    def test_charge_limit_must_be_a_fraction(self, vehicle, limit):
        with pytest.raises(ValueError, match="fraction"):
            vehicle.set_charge_limit(limit)

    @pytest.mark.parametrize(("latitude", "longitude"), [(91, 0), (0, -181), ("1", 2)])
    def test_destination_must_be_coordinates(self, vehicle, latitude, longitude):
        with pytest.raises(ValueError, match="between"):
            vehicle.send_destination(latitude, longitude)

    def test_command_error_is_raised_with_its_class(self, vehicle, mocked):
        mocked.post(
            VEHICLE_URL + "/security",
            status=409,
            json=v2_error(409, "VEHICLE_STATE", "DOOR_OPEN", "A door is open."),
        )
        with pytest.raises(VehicleStateException, match=r"VEHICLE_STATE:DOOR_OPEN - A door is open\."):
            vehicle.lock()


class TestWebhooks:
    def test_subscribe(self, vehicle, mocked):
        mocked.post(VEHICLE_URL + "/webhooks/wh-1", json={"webhookId": "wh-1", "vehicleId": VEHICLE_ID})
        result = vehicle.subscribe("wh-1")
        assert (result.webhook_id, result.vehicle_id) == ("wh-1", VEHICLE_ID)
        assert sent_headers(mocked)["Authorization"] == f"Bearer {ACCESS_TOKEN}"

    def test_unsubscribe_uses_the_management_token(self, vehicle, mocked):
        mocked.delete(VEHICLE_URL + "/webhooks/wh-1", json={"status": "success"})
        assert vehicle.unsubscribe("amt-secret", "wh-1").status == "success"
        assert sent_headers(mocked)["Authorization"] == "Bearer amt-secret"


class TestGenericRequest:
    def test_get_with_extra_headers(self, vehicle, mocked):
        mocked.get(VEHICLE_URL + "/tesla/compass", json={"heading": 90}, headers=DATA_HEADERS)
        result = vehicle.request(
            "get", "/tesla/compass", headers={"sc-unit-system": "imperial", "X-Extra": "1"}
        )
        assert isinstance(result, Result)
        assert result.data == {"heading": 90}
        assert result["heading"] == 90
        assert result.meta.request_id == "req-123"
        headers = sent_headers(mocked)
        assert headers["sc-unit-system"] == "imperial"
        assert headers["X-Extra"] == "1"
        assert headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"

    def test_post_with_body_and_own_authorization(self, vehicle, mocked):
        mocked.post(
            VEHICLE_URL + "/charge/schedule",
            json={"status": "success"},
            match=[matchers.json_params_matcher({"enable": True})],
        )
        vehicle.request(
            "POST", "charge/schedule", body={"enable": True}, headers={"authorization": "Bearer X"}
        )
        headers = sent_headers(mocked)
        assert headers["Authorization"] == "Bearer X"
        assert "sc-unit-system" not in headers

    def test_headers_never_leak_between_calls_or_vehicles(self, transport, mocked):
        # The official SDK's mutable default `headers={}` carried one vehicle's token into the next call.
        first = Vehicle(VEHICLE_ID, ACCESS_TOKEN, transport=transport)
        second = Vehicle("other-vehicle", OTHER_TOKEN, transport=transport)
        mocked.get(VEHICLE_URL + "/odometer", json={"distance": 1})
        mocked.get(f"{API}/vehicles/other-vehicle/odometer", json={"distance": 2})
        mocked.get(f"{API}/vehicles/other-vehicle/vin", json={"vin": "V"})
        first.request("GET", "odometer", headers={"X-Only-Once": "yes"})
        second.request("GET", "odometer")
        second.vin()
        for call in mocked.calls[1:]:
            assert call.request.headers["Authorization"] == f"Bearer {OTHER_TOKEN}"
            assert "X-Only-Once" not in call.request.headers


class TestBatch:
    def batch_body(self):
        return {
            "responses": [
                {
                    "path": "/odometer",
                    "code": 200,
                    "headers": {"sc-data-age": "2024-05-01T10:00:00Z", "sc-unit-system": "metric"},
                    "body": {"distance": 321.0},
                },
                {
                    "path": "/location",
                    "code": 200,
                    "headers": {"sc-data-age": "2024-05-01T10:00:00Z"},
                    "body": {"latitude": 1.0, "longitude": 2.0},
                },
                {
                    "path": "/fuel",
                    "code": 403,
                    "headers": {},
                    "body": v2_error(403, "PERMISSION", None, "Missing read_fuel."),
                },
                {
                    "path": "/battery",
                    "code": 429,
                    "headers": {"Retry-After": "12"},
                    "body": v2_error(429, "RATE_LIMIT", "VEHICLE", "Slow down."),
                },
            ]
        }

    @pytest.fixture
    def batch(self, vehicle, mocked):
        mocked.post(
            VEHICLE_URL + "/batch",
            json=self.batch_body(),
            headers={"sc-request-id": "req-batch"},
            match=[
                matchers.json_params_matcher(
                    {
                        "requests": [
                            {"path": "/odometer"},
                            {"path": "/location"},
                            {"path": "/fuel"},
                            {"path": "/battery"},
                        ]
                    }
                )
            ],
        )
        return vehicle.batch(["/odometer", "location", "/fuel", "/battery"])

    def test_seed_shape(self, batch, mocked):
        assert set(batch) == {"/odometer", "/location", "/fuel", "/battery"}
        assert batch["/odometer"]["code"] == 200
        assert batch["/odometer"]["body"]["distance"] == 321.0
        assert batch["/odometer"]["headers"]["sc-unit-system"] == "metric"
        assert sent_headers(mocked)["sc-unit-system"] == "metric"

    def test_typed_results_per_path(self, batch):
        odometer = batch.result("/odometer")
        assert isinstance(odometer, Odometer)
        assert odometer.distance == 321.0
        assert odometer.meta.data_age == datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)
        assert odometer.meta.request_id == "req-batch"
        assert batch.result("location").latitude == 1.0

    def test_failed_path_raises_its_own_error(self, batch):
        with pytest.raises(PermissionException, match=r"Missing read_fuel\."):
            batch.result("/fuel")
        with pytest.raises(RateLimitingException) as caught:
            batch.result("/battery")
        assert caught.value.retry_after == 12

    def test_errors(self, batch):
        errors = batch.errors
        assert set(errors) == {"/fuel", "/battery"}
        assert isinstance(errors["/fuel"], PermissionException)
        assert errors["/fuel"].request_id == "req-err-1"

    def test_missing_answer_is_an_invalid_response(self, vehicle, mocked):
        mocked.post(VEHICLE_URL + "/batch", json={"responses": [{"path": "/vin", "code": 200, "body": {}}]})
        with pytest.raises(InvalidResponseException, match="/odometer"):
            vehicle.batch(["/vin", "/odometer"])

    @pytest.mark.parametrize("body", [{}, {"responses": [{"code": 200}]}, {"responses": [{"path": "/x"}]}])
    def test_malformed_batch_answer(self, vehicle, mocked, body):
        mocked.post(VEHICLE_URL + "/batch", json=body)
        with pytest.raises(InvalidResponseException):
            vehicle.batch(["/x"])

    def test_empty_batch_is_rejected(self, vehicle):
        with pytest.raises(ValueError, match="at least one path"):
            vehicle.batch([])

    def test_root_path_gives_attributes(self, vehicle, mocked):
        body = {"id": VEHICLE_ID, "make": "KIA", "model": "EV6", "year": 2023}
        mocked.post(VEHICLE_URL + "/batch", json={"responses": [{"path": "/", "code": 200, "body": body}]})
        assert vehicle.batch(["/"]).result("/").make == "KIA"


class TestRepr:
    def test_vehicle_repr_hides_the_token(self, vehicle):
        assert ACCESS_TOKEN not in repr(vehicle)
        assert VEHICLE_ID in repr(vehicle)

    def test_result_repr_is_readable(self, vehicle, mocked):
        mocked.get(VEHICLE_URL + "/odometer", json={"distance": 5})
        assert "distance=5" in repr(vehicle.odometer())

    def test_error_from_a_request_never_shows_the_token(self, vehicle, mocked):
        mocked.get(VEHICLE_URL + "/vin", status=401, json=v2_error(401, "AUTHENTICATION", None, "Bad token."))
        with pytest.raises(Exception) as caught:
            vehicle.vin()
        assert ACCESS_TOKEN not in str(caught.value)
        assert ACCESS_TOKEN not in repr(caught.value)

    def test_constructor_needs_id_and_token(self):
        with pytest.raises(ValueError, match="access token"):
            Vehicle(VEHICLE_ID, "")


def test_results_are_json_serialisable_through_data(vehicle, mocked):
    mocked.get(VEHICLE_URL + "/charge", json={"isPluggedIn": False, "state": "NOT_CHARGING"})
    assert json.loads(json.dumps(vehicle.charge()["data"])) == {"isPluggedIn": False, "state": "NOT_CHARGING"}
