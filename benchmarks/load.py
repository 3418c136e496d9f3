"""A closed-loop HTTP load generator, run in its own process so it does not share the measured server's GIL.

    python -m benchmarks.load --url http://127.0.0.1:8000/api/smartcar/vehicles/ --connections 10 --duration 10
        [--warmup 1] [--cookie "sessionid=..."] [--sign-with MANAGEMENT_TOKEN]

Each connection sends one request, waits for the whole answer, then sends the next (reconnecting when the server
closes, as gunicorn's sync workers do after every answer). With ``--sign-with`` every request is a POST of a
unique webhook event signed like Smartcar's (``SC-Signature``), which a fixed-request tool such as wrk cannot
produce. Prints one JSON object: requests, errors, statuses, requests/s and latency percentiles. Only
127.0.0.1 and localhost are accepted as targets.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: int = 0
    # Successful answers including the warm-up's, to compare with what the server stored.
    all_ok: int = 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load")
    parser.add_argument("--url", required=True)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of load before measuring")
    parser.add_argument("--cookie", help="Cookie header sent with every request")
    parser.add_argument("--sign-with", help="POST unique webhook events signed with this management token")
    args = parser.parse_args(argv)
    if urlsplit(args.url).hostname not in LOCAL_HOSTS:
        parser.error("only 127.0.0.1 and localhost may be load-tested")
    if args.connections < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("--connections must be positive, --duration positive and --warmup not negative")
    return args


def webhook_event(event_id: str) -> bytes:
    """A Smartcar v4 VEHICLE_STATE event of typical size, unique by its eventId."""
    now = int(time.time() * 1000)
    event = {
        "eventId": event_id,
        "eventType": "VEHICLE_STATE",
        "data": {
            "user": {"id": "1f3c9d0e-3a52-4c7e-9a43-51d4b0a0c001"},
            "vehicle": {
                "id": "0b6f1c2e-9d4a-4f6e-8a53-2c1d0e9f8a7b",
                "make": "TESLA",
                "model": "Model 3",
                "year": 2022,
            },
            "signals": [
                {
                    "code": "odometer-traveleddistance",
                    "name": "TraveledDistance",
                    "group": "Odometer",
                    "body": {"value": 31415.9, "unit": "km"},
                    "meta": {"oemUpdatedAt": now, "retrievedAt": now},
                },
                {
                    "code": "location-preciselocation",
                    "name": "PreciseLocation",
                    "group": "Location",
                    "body": {"latitude": 37.7749, "longitude": -122.4194, "heading": 90},
                    "meta": {"oemUpdatedAt": now, "retrievedAt": now},
                },
                {
                    "code": "tractionbattery-stateofcharge",
                    "name": "StateOfCharge",
                    "group": "TractionBattery",
                    "body": {"value": 76, "unit": "percent"},
                    "meta": {"oemUpdatedAt": now, "retrievedAt": now},
                },
            ],
        },
        "triggers": [{"type": "SIGNAL_UPDATED", "signal": {"code": "odometer-traveleddistance"}}],
        "meta": {
            "version": "4.0",
            "webhookId": "5a8e5e38-1e12-4011-a36d-56f120053f9e",
            "webhookName": "Benchmark webhook",
            "deliveryId": str(uuid.uuid4()),
            "deliveredAt": now,
            "mode": "LIVE",
        },
    }
    return json.dumps(event, separators=(",", ":")).encode()


def signature(token: str, body: bytes) -> str:
    """Smartcar's ``SC-Signature``: the hex HMAC-SHA256 of the raw body keyed with the management token."""
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


class RequestFactory:
    """The bytes of each request: the same GET every time, or a newly signed webhook POST."""

    def __init__(self, url: str, cookie: str | None, signing_token: str | None) -> None:
        parts = urlsplit(url)
        self.path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.host = parts.netloc
        self.cookie = cookie
        self.signing_token = signing_token
        self.run_id = uuid.uuid4().hex[:12]
        self.sent = 0

    def next(self) -> bytes:
        headers = [f"Host: {self.host}", "User-Agent: django-smartcar-benchmarks"]
        if self.cookie:
            headers.append(f"Cookie: {self.cookie}")
        if self.signing_token is None:
            return (f"GET {self.path} HTTP/1.1\r\n" + "\r\n".join(headers) + "\r\n\r\n").encode()
        self.sent += 1
        body = webhook_event(f"bench-{self.run_id}-{self.sent}")
        headers += [
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            f"SC-Signature: {signature(self.signing_token, body)}",
        ]
        return (f"POST {self.path} HTTP/1.1\r\n" + "\r\n".join(headers) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one whole response; returns its status and whether the connection may be reused."""
    status_line = await reader.readuntil(b"\r\n")
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")
    else:
        await reader.read()
        return status, False
    return status, headers.get("connection") != "close"


async def connection_loop(factory: RequestFactory, tally: Tally, measure_from: float, stop_at: float) -> None:
    parts = urlsplit(f"http://{factory.host}")
    reader = writer = None
    while time.perf_counter() < stop_at:
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
            writer.write(factory.next())
            status, reusable = await read_response(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            if started >= measure_from:
                tally.errors += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            continue
        tally.all_ok += 200 <= status < 300
        if started >= measure_from:
            tally.latencies.append(time.perf_counter() - started)
            tally.statuses[status] += 1
        if not reusable:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    factory = RequestFactory(args.url, args.cookie, args.sign_with)
    tally = Tally()
    measure_from = time.perf_counter() + args.warmup
    stop_at = measure_from + args.duration
    await asyncio.gather(
        *(connection_loop(factory, tally, measure_from, stop_at) for _ in range(args.connections))
    )
    latencies = sorted(tally.latencies)

    def percentile(fraction: float) -> float | None:
        return (
            latencies[min(len(latencies) - 1, int(fraction * len(latencies)))] * 1000 if latencies else None
        )

    return {
        "requests": len(latencies),
        "errors": tally.errors,
        "all_ok": tally.all_ok,
        "statuses": {str(status): count for status, count in sorted(tally.statuses.items())},
        "seconds": args.duration,
        "requests_per_second": len(latencies) / args.duration,
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
    }


def main(argv: Sequence[str] | None = None) -> None:
    print(json.dumps(asyncio.run(run(parse_args(argv)))))


if __name__ == "__main__":
    main()
