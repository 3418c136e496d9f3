"""V3 results: every documented and captured shape is read, typed, and still reads like the JSON it came from."""

from datetime import datetime, timezone

import pytest

from django_smartcar.client import InvalidResponseException, v3
from django_smartcar.client.results import parse_timestamp

MS = 1752104218549
MS_TIME = datetime.fromtimestamp(MS / 1000, tz=timezone.utc)
ISO = "2026-01-09T00:53:21.000Z"
ISO_TIME = datetime(2026, 1, 9, 0, 53, 21, tzinfo=timezone.utc)

DOCUMENTED = {
    "id": "odometer-traveleddistance",
    "type": "signal",
    "attributes": {
        "code": "odometer-traveleddistance",
        "name": "TraveledDistance",
        "group": "Odometer",
        "status": {"value": "SUCCESS"},
        "body": {"unit": "kilometers", "value": 115071.5},
    },
    "meta": {"retrievedAt": MS, "oemUpdatedAt": 1752104118549},
    "links": {"self": "/vehicles/v1/signals/odometer-traveleddistance"},
}
# A v4 webhook's signal (real capture), flat.
WEBHOOK_FORM = {
    "code": "tractionbattery-stateofcharge",
    "name": "StateOfCharge",
    "group": "TractionBattery",
    "body": {"value": 78, "unit": "percent"},
    "meta": {"oemUpdatedAt": 1767920001000, "retrievedAt": 1767920009852},
    "status": {"value": "SUCCESS"},
}
ERROR_FORM = {
    "name": "FuelLevel",
    "group": "InternalCombustionEngine",
    "code": "internalcombustionengine-fuellevel",
    "status": {"value": "ERROR", "error": {"type": "COMPATIBILITY", "code": "VEHICLE_NOT_CAPABLE"}},
}


class TestTimes:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (MS, MS_TIME),
            (str(MS), MS_TIME),
            (ISO, ISO_TIME),
            ("2026-01-09T00:53:21+00:00", ISO_TIME),
            (0, None),
            ("0", None),
            (None, None),
            (True, None),
            ("yesterday", None),
            (-5, None),
        ],
    )
    def test_epoch_ms_iso_or_nothing(self, value, expected):
        assert parse_timestamp(value) == expected


class TestSignal:
    def test_the_documented_resource(self):
        signal = v3.Signal.from_resource(DOCUMENTED)
        assert (signal.code, signal.name, signal.group, signal.status) == (
            "odometer-traveleddistance",
            "TraveledDistance",
            "Odometer",
            "SUCCESS",
        )
        assert signal.body == {"unit": "kilometers", "value": 115071.5}
        assert (signal.value, signal.unit, signal.succeeded, signal.error) == (115071.5, "km", True, None)
        assert signal.retrieved_at == MS_TIME
        assert signal.oem_updated_at == datetime.fromtimestamp(1752104118.549, tz=timezone.utc)
        assert signal.raw == DOCUMENTED
        assert signal["attributes"]["body"]["value"] == 115071.5
        assert signal["body"] == DOCUMENTED

    def test_the_webhook_form(self):
        signal = v3.Signal.from_resource(WEBHOOK_FORM)
        assert (signal.code, signal.group, signal.value, signal.unit, signal.status) == (
            "tractionbattery-stateofcharge",
            "TractionBattery",
            78,
            "percent",
            "SUCCESS",
        )
        assert signal.retrieved_at == datetime.fromtimestamp(1767920009.852, tz=timezone.utc)

    def test_an_error_signal_has_no_body(self):
        signal = v3.Signal.from_resource(ERROR_FORM)
        assert (signal.status, signal.body, signal.value, signal.succeeded) == ("ERROR", None, None, False)
        assert signal.error == {"type": "COMPATIBILITY", "code": "VEHICLE_NOT_CAPABLE"}
        assert (signal.oem_updated_at, signal.retrieved_at) == (None, None)

    def test_a_documented_error_inside_attributes(self):
        resource = {
            "id": "closure-islocked",
            "type": "signal",
            "attributes": {
                "code": "closure-islocked",
                "status": {"value": "ERROR", "error": {"type": "PERMISSION", "code": None}},
            },
        }
        signal = v3.Signal.from_resource(resource)
        assert (signal.status, signal.error["type"]) == ("ERROR", "PERMISSION")

    def test_a_status_as_a_plain_string(self):
        signal = v3.Signal.from_resource({**WEBHOOK_FORM, "status": "unavailable", "body": None})
        assert signal.status == "UNAVAILABLE"

    def test_no_status_as_in_the_oct_2025_captures(self):
        without = {key: value for key, value in WEBHOOK_FORM.items() if key != "status"}
        assert v3.Signal.from_resource(without).status == "SUCCESS"
        bare_error = {"code": "closure-islocked", "error": {"type": "SERVER", "code": "INTERNAL"}}
        assert v3.Signal.from_resource(bare_error).status == "ERROR"
        assert v3.Signal.from_resource({"code": "closure-islocked"}).status == "UNAVAILABLE"

    @pytest.mark.parametrize(
        ("meta", "oem", "retrieved"),
        [
            ({"oemUpdatedAt": ISO, "retrievedAt": ISO}, ISO_TIME, ISO_TIME),
            ({"oemUpdatedAt": 0, "retrievedAt": 0}, None, None),
            ({"fetchedAt": MS}, None, MS_TIME),
            ({"ingestedAt": ISO}, None, ISO_TIME),
            ({"retrievedAt": MS, "fetchedAt": ISO}, None, MS_TIME),
            ({}, None, None),
        ],
    )
    def test_meta_times_in_every_form(self, meta, oem, retrieved):
        signal = v3.Signal.from_resource({**DOCUMENTED, "meta": meta})
        assert (signal.oem_updated_at, signal.retrieved_at) == (oem, retrieved)

    def test_bare_or_wrapped_in_data(self):
        bare = v3.Signal.from_document(DOCUMENTED, {"sc-request-id": "r1"})
        wrapped = v3.Signal.from_document({"data": DOCUMENTED})
        assert bare.code == wrapped.code == "odometer-traveleddistance"
        assert bare.request_id == "r1"
        assert wrapped["data"]["id"] == "odometer-traveleddistance"
        assert wrapped["body"] == {"data": DOCUMENTED}

    def test_the_id_stands_in_for_a_missing_code(self):
        resource = {"id": "closure-islocked", "type": "signal", "attributes": {"body": {"value": True}}}
        assert v3.Signal.from_resource(resource).code == "closure-islocked"

    def test_a_signal_without_code_or_id(self):
        with pytest.raises(InvalidResponseException):
            v3.Signal.from_resource({"attributes": {"body": {"value": 1}}})

    def test_multi_valued_bodies_keep_their_shape(self):
        doors = {"values": [{"row": 0, "column": 0, "isOpen": False, "isLocked": True}], "rowCount": 1}
        signal = v3.Signal.from_resource({"code": "closure-doors", "body": doors})
        assert (signal.body, signal.value, signal.unit) == (doors, None, None)

    @pytest.mark.parametrize(
        ("unit", "expected"),
        [
            ("kilometers", "km"),
            ("km", "km"),
            ("amps", "ampere"),
            ("kilowatt_hours", "kWh"),
            ("kWhr", "kWh"),
            ("miles_per_hour", "mph"),
            ("percent", "percent"),
            ("bar", "bar"),
            ("", None),
            (None, None),
        ],
    )
    def test_unit_aliases(self, unit, expected):
        assert v3.normalize_unit(unit) == expected


class TestSignals:
    def test_the_documented_list(self):
        document = {
            "data": [DOCUMENTED, ERROR_FORM],
            "meta": {"page": 1, "pageSize": 2, "totalCount": 2},
            "links": {"self": "/vehicles/v1/signals"},
            "included": {
                "vehicle": {
                    "id": "v1",
                    "type": "vehicle",
                    "attributes": {"make": "BYD", "model": "Seal", "year": 2025, "powertrainType": "PHEV"},
                }
            },
        }
        signals = v3.Signals.from_document(document, {"sc-request-id": "r2"})
        assert signals.codes == ["odometer-traveleddistance", "internalcombustionengine-fuellevel"]
        assert len(signals) == 2
        assert [signal.code for signal in signals] == signals.codes
        assert signals[1].status == "ERROR"
        assert signals["odometer-traveleddistance"].value == 115071.5
        assert signals.get("closure-islocked") is None
        assert "internalcombustionengine-fuellevel" in signals
        assert (signals.vehicle.id, signals.vehicle.make, signals.vehicle.powertrain_type) == (
            "v1",
            "BYD",
            "PHEV",
        )
        assert signals.meta["totalCount"] == 2
        assert signals["data"][0] == DOCUMENTED
        assert signals["included"]["vehicle"]["id"] == "v1"
        assert signals.get("links") == {"self": "/vehicles/v1/signals"}
        assert signals["body"] == document
        assert signals["headers"]["sc-request-id"] == signals.request_id == "r2"
        assert (
            repr(signals)
            == "Signals(vehicle='v1', codes=['odometer-traveleddistance', 'internalcombustionengine-fuellevel'])"
        )

    def test_empty(self):
        signals = v3.Signals.from_document({"data": []})
        assert (len(signals), signals.codes, signals.vehicle) == (0, [], None)

    def test_included_as_a_json_api_list_and_a_flat_vehicle(self):
        listed = v3.Signals.from_document(
            {"data": [], "included": [{"type": "user", "id": "u"}, {"type": "vehicle", "id": "v2"}]}
        )
        flat = v3.Signals.from_document({"data": [], "included": {"vehicle": {"id": "v3", "make": "KIA"}}})
        assert (listed.vehicle.id, flat.vehicle.id, flat.vehicle.make) == ("v2", "v3", "KIA")

    def test_data_that_is_not_a_list(self):
        with pytest.raises(InvalidResponseException):
            v3.Signals.from_document({"data": {"id": "x"}})


class TestCommandExecution:
    def test_the_documented_answer(self):
        document = {
            "data": {
                "id": "exec_9876543210",
                "type": "command-execution",
                "attributes": {
                    "commandType": "charge-set-limit",
                    "status": {"value": "SUCCESS"},
                    "executionMode": "sync",
                    "parameters": {"percent": 80},
                },
                "meta": {
                    "executedAt": "2024-01-01T12:00:00Z",
                    "completedAt": "2024-01-01T12:00:02Z",
                    "durationInSeconds": 2,
                },
            }
        }
        result = v3.CommandExecution.from_document(document)
        assert (result.id, result.command_type, result.status, result.execution_mode) == (
            "exec_9876543210",
            "charge-set-limit",
            "SUCCESS",
            "sync",
        )
        assert result.parameters == {"percent": 80}
        assert result.executed_at == datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc)
        assert result.completed_at == datetime(2024, 1, 1, 12, 0, 2, tzinfo=timezone.utc)
        assert (result.duration_seconds, result.succeeded) == (2.0, True)
        assert result["data"]["attributes"]["commandType"] == "charge-set-limit"

    def test_a_failure_with_a_string_status_and_epoch_times(self):
        resource = {
            "id": "exec_1",
            "attributes": {
                "commandType": "security-lock",
                "status": {"value": "FAILURE", "error": {"type": "VEHICLE_STATE", "code": "DOOR_OPEN"}},
            },
            "meta": {"executedAt": MS},
        }
        result = v3.CommandExecution.from_document(resource, http_status=202)
        assert (result.status, result.succeeded, result.http_status) == ("FAILURE", False, 202)
        assert result.error == {"type": "VEHICLE_STATE", "code": "DOOR_OPEN"}
        assert result.executed_at == MS_TIME
        assert v3.CommandExecution.from_document(
            {"data": {"id": "e", "attributes": {"status": "pending"}}}
        ).status == ("PENDING")

    def test_an_empty_answer(self):
        result = v3.CommandExecution.from_document({}, http_status=202)
        assert (result.id, result.status, result.succeeded, result.http_status) == (None, None, False, 202)


class TestConnection:
    def test_flat_forms_are_read_too(self):
        resource = {
            "id": "c1",
            "attributes": {
                "userId": "u1",
                "vehicle": {"id": "v1", "make": "KIA", "year": "2021"},
                "permissions": ["read_vin", 5],
            },
            "meta": {"createdAt": MS},
        }
        connection = v3.Connection.from_resource(resource)
        assert (connection.user_id, connection.vehicle_id, connection.year) == ("u1", "v1", 2021)
        assert connection.permissions == ["read_vin"]
        assert (connection.created_at, connection.updated_at) == (MS_TIME, None)

    def test_a_connection_without_id(self):
        with pytest.raises(InvalidResponseException):
            v3.Connection.from_resource({"attributes": {}})


class TestPage:
    @pytest.mark.parametrize(
        ("items", "page", "size", "total", "links", "expected"),
        [
            ([1], 1, 10, None, {"next": "/x?page[number]=2"}, True),
            ([1], 1, 1, 5, {"next": None}, False),
            ([1, 2], 1, 2, 5, {}, True),
            ([1], 3, 2, 5, {}, False),
            ([1, 2], 1, 2, None, {}, True),
            ([1], 1, 2, None, {}, False),
            ([1], 1, None, None, {}, False),
            ([], 1, 10, 50, {"next": "/x"}, False),
        ],
    )
    def test_has_next(self, items, page, size, total, links, expected):
        assert v3.Page(items, page=page, page_size=size, total_count=total, links=links).has_next is expected

    def test_reads_like_the_body(self):
        page = v3.Page(["a"], page=1, document={"data": ["a"], "meta": {"totalCount": 1}})
        assert (page[0], page["meta"], list(page), len(page)) == ("a", {"totalCount": 1}, ["a"], 1)


def test_v2_and_v3_side_by_side():
    from django_smartcar import client

    assert client.v2.Vehicle is client.Vehicle and client.v2.AuthClient is client.AuthClient
    assert set(client.v2.__all__) <= set(client.__all__)
    assert {"get_vehicle", "v2", "v3"} <= set(client.__all__) - set(client.v2.__all__)
    assert all(hasattr(client.v3, name) for name in client.v3.__all__)


class TestWebhookForm:
    def test_an_api_signal_in_the_webhook_shape(self):
        assert v3.Signal.from_resource(DOCUMENTED).webhook_form() == {
            "code": "odometer-traveleddistance",
            "name": "TraveledDistance",
            "group": "Odometer",
            "status": {"value": "SUCCESS"},
            "body": {"unit": "kilometers", "value": 115071.5},
            "meta": {"oemUpdatedAt": 1752104118549, "retrievedAt": MS},
        }

    def test_webhook_signals_are_unchanged(self):
        assert v3.Signal.from_resource(WEBHOOK_FORM).webhook_form() == WEBHOOK_FORM
        assert v3.Signal.from_resource(ERROR_FORM).webhook_form() == ERROR_FORM

    def test_fetched_at_becomes_retrieved_at(self):
        signal = v3.Signal.from_resource(
            {"code": "closure-islocked", "body": {"value": True}, "meta": {"fetchedAt": ISO}}
        )
        assert signal.webhook_form()["meta"] == {"oemUpdatedAt": None, "retrievedAt": ISO}
