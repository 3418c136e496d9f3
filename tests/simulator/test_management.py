"""The management API (connections) through the project's client, authenticated with the AMT."""

from __future__ import annotations

import pytest

from django_smartcar.client import (
    AuthenticationException,
    ValidationException,
    delete_connections,
    get_connections,
)


def test_connections_list_every_connected_vehicle_and_filter(simulator, connected, transport):
    listed = get_connections(simulator.management_token, transport=transport)

    assert sorted(connection.vehicle_id for connection in listed.connections) == sorted(connected.vehicle_ids)
    assert {connection.user_id for connection in listed.connections} == {simulator.vehicles[0].user_id}
    assert all(connection.connected_at.tzinfo is not None for connection in listed.connections)
    one = get_connections(
        simulator.management_token, vehicle_id=connected.vehicle_ids[1], transport=transport
    )
    assert [connection.vehicle_id for connection in one.connections] == [connected.vehicle_ids[1]]


def test_connections_are_paged_with_a_cursor(simulator, connected, transport):
    first = get_connections(simulator.management_token, limit=2, transport=transport)
    rest = get_connections(simulator.management_token, limit=2, cursor=first.cursor, transport=transport)

    assert len(first.connections) == 2 and first.cursor
    assert len(rest.connections) == 1 and rest.cursor is None
    seen = [connection.vehicle_id for connection in first.connections + rest.connections]
    assert sorted(seen) == sorted(connected.vehicle_ids)


def test_deleting_a_vehicles_connection_ends_its_access(simulator, connected, transport):
    removed = delete_connections(
        simulator.management_token, vehicle_id=connected.vehicle_ids[0], transport=transport
    )

    assert [connection.vehicle_id for connection in removed.connections] == [connected.vehicle_ids[0]]
    with pytest.raises(ValidationException):
        connected.vehicle(connected.vehicle_ids[0]).odometer()
    assert len(get_connections(simulator.management_token, transport=transport).connections) == 2


def test_deleting_a_users_connections_removes_them_all(simulator, connected, transport):
    user_id = simulator.vehicles[0].user_id

    removed = delete_connections(simulator.management_token, user_id=user_id, transport=transport)

    assert len(removed.connections) == 3
    assert get_connections(simulator.management_token, transport=transport).connections == []


def test_management_calls_need_the_management_token(connected, transport):
    with pytest.raises(AuthenticationException):
        get_connections("not-the-amt", transport=transport)


def test_a_bad_cursor_is_a_validation_error(simulator, connected, transport):
    with pytest.raises(ValidationException):
        get_connections(simulator.management_token, cursor="abc", transport=transport)
