"""The asyncio transport of bulk work, against the standalone simulator over HTTP: the same answers and the
same exceptions as the synchronous transport, many requests in flight on one event loop."""

import asyncio
import socket

import pytest

from django_smartcar.client import SmartcarException
from django_smartcar.client.aio import AsyncTransport, send_all
from django_smartcar.client.exceptions import SmartcarConnectionError
from django_smartcar.client.transport import PreparedRequest, Transport

SECRET = "not-a-real-token-5d41402abc4b2a76"


def run(coroutine):
    return asyncio.run(coroutine)


def test_same_answer_as_the_synchronous_transport(standalone_simulator):
    request = PreparedRequest("GET", f"{standalone_simulator.base_url}/_simulator/health", retry_safe=True)

    async def send():
        async with AsyncTransport() as transport:
            return await transport.send(request)

    answer = run(send())
    with Transport() as transport:
        expected = transport.send_prepared(request)
    assert answer.status_code == expected.status_code == 200
    assert answer.body == expected.body


def test_an_error_is_the_synchronous_transports_exception_without_the_secret(standalone_simulator):
    request = PreparedRequest(
        "GET",
        f"{standalone_simulator.origins.api}/v2.0/vehicles",
        headers={"Authorization": f"Bearer {SECRET}"},
        retry_safe=True,
        secrets=(SECRET,),
    )

    async def send():
        async with AsyncTransport() as transport:
            await transport.send(request)

    with pytest.raises(SmartcarException) as raised:
        run(send())
    with Transport() as transport, pytest.raises(SmartcarException) as expected:
        transport.send_prepared(request)
    assert type(raised.value) is type(expected.value)
    assert raised.value.status_code == expected.value.status_code == 401
    assert raised.value.type == expected.value.type
    assert SECRET not in str(raised.value) and SECRET not in repr(request)


def test_a_refused_connection_was_never_sent():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    request = PreparedRequest(
        "POST", f"http://127.0.0.1:{port}/v2.0/vehicles/x/security", json={"action": "LOCK"}
    )

    async def send():
        async with AsyncTransport() as transport:
            await transport.send(request)

    with pytest.raises(SmartcarConnectionError) as raised:
        run(send())
    assert raised.value.request_sent is False


def test_many_requests_in_flight_on_one_thread(standalone_simulator):
    request = PreparedRequest("GET", f"{standalone_simulator.base_url}/_simulator/health", retry_safe=True)

    async def send_many():
        async with AsyncTransport(max_connections=20) as transport:
            return await asyncio.gather(*(transport.send(request) for _ in range(60)))

    answers = run(send_many())
    assert [answer.status_code for answer in answers] == [200] * 60


def test_every_connection_allowed_is_used_at_once():
    """The connections are split into small pools (httpcore's per-request cost grows with a pool's size), yet
    ``max_connections`` requests are all in flight together: a server that answers nobody until 100 requests
    are waiting on it gets them."""
    wanted = 100
    waiting: list[asyncio.StreamWriter] = []

    async def scenario():
        arrived = asyncio.Event()  # made inside the loop that waits on it

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            waiting.append(writer)
            if len(waiting) == wanted:
                arrived.set()
            await arrived.wait()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
            await writer.drain()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        request = PreparedRequest("GET", f"http://127.0.0.1:{port}/", retry_safe=True)
        async with server, AsyncTransport(max_connections=wanted) as transport:
            return await asyncio.wait_for(
                asyncio.gather(*(transport.send(request) for _ in range(wanted))), timeout=20
            )

    answers = run(scenario())
    assert [answer.status_code for answer in answers] == [200] * wanted


def test_send_all_bounds_what_is_in_flight_and_yields_every_answer(standalone_simulator):
    """The synchronous face of bulk work: 100 requests through at most 8 in flight, every answer and every
    error yielded with its key, the requests read lazily."""
    ok = PreparedRequest("GET", f"{standalone_simulator.base_url}/_simulator/health", retry_safe=True)
    refused = PreparedRequest("GET", f"{standalone_simulator.origins.api}/v2.0/vehicles", retry_safe=True)
    pulled = []

    def requests():
        for index in range(100):
            pulled.append(index)
            yield index, refused if index % 10 == 0 else ok

    seen = {}
    for key, answer in send_all(requests(), max_in_flight=8):
        # Never more than 8 sent and not yet answered, counting this one.
        assert len(pulled) - len(seen) <= 8
        seen[key] = answer
    assert sorted(seen) == list(range(100))
    assert all(isinstance(seen[index], SmartcarException) for index in range(0, 100, 10))
    assert all(seen[index].status_code == 200 for index in range(100) if index % 10)


def test_send_all_stops_cleanly_when_the_caller_stops_early(standalone_simulator):
    request = PreparedRequest("GET", f"{standalone_simulator.base_url}/_simulator/health", retry_safe=True)
    answers = send_all(((index, request) for index in range(50)), max_in_flight=5)
    first = next(answers)
    answers.close()
    assert first[1].status_code == 200
    with pytest.raises(ValueError):
        next(send_all([], max_in_flight=0))
