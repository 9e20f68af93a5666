"""Test doubles of the platforms' HTTP endpoints, for the real adapters over `responses`:
a stub per endpoint answers per access token (one token per connection), counts calls,
and can hold a request on a gate (a slow platform) until the test lets it go. Also a
movable clock and small synchronisation helpers for concurrency tests."""

from __future__ import annotations

import collections
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import responses
from django.db import connection, connections

STRIPE_CHARGES = "https://api.stripe.com/v1/charges"
STRIPE_DISPUTES = "https://api.stripe.com/v1/disputes"
GOOGLE_SEARCH = "https://googleads.googleapis.com/v26/customers/{customer}/googleAds:search"
GOOGLE_TOKEN = "https://oauth2.googleapis.com/token"


class Behaviour:
    def __init__(
        self,
        status: int = 200,
        body: Any = None,
        headers: dict[str, str] | None = None,
        gate: threading.Event | None = None,
    ) -> None:
        self.status, self.body, self.headers, self.gate = status, body, headers or {}, gate


class Stub:
    """Answers by the request's bearer token (or by a key function)."""

    def __init__(self, key: Callable[[Any], str]) -> None:
        self.key = key
        self.behaviours: dict[str, Behaviour] = {}
        self.calls: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()

    def set(self, key: str, behaviour: Behaviour) -> None:
        self.behaviours[key] = behaviour

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        key = self.key(request)
        with self.lock:
            self.calls[key] += 1
        behaviour = self.behaviours[key]
        if behaviour.gate is not None:
            assert behaviour.gate.wait(30), "the test never released the gate"
        headers = {"Content-Type": "application/json", **behaviour.headers}
        return behaviour.status, headers, json.dumps(behaviour.body)

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def bearer(request: Any) -> str:
    return request.headers["Authorization"].split(" ", 1)[1]


def stripe_list(*amounts: int, currency: str = "usd") -> dict[str, Any]:
    now = int(time.time())
    return {
        "object": "list",
        "url": "/v1/charges",
        "has_more": False,
        "data": [
            {
                "id": f"ch_{uuid.uuid4().hex[:12]}",
                "object": "charge",
                "amount": a,
                "amount_captured": a,
                "amount_refunded": 0,
                "currency": currency,
                "status": "succeeded",
                "paid": True,
                "captured": True,
                "created": now,
                "livemode": False,
            }
            for a in amounts
        ],
    }


def stripe_no_disputes(request: Any) -> tuple[int, dict[str, str], str]:
    """The disputes list the Stripe adapter reads after the charges: none, for every key."""
    body = {"object": "list", "url": "/v1/disputes", "has_more": False, "data": []}
    return 200, {"Content-Type": "application/json"}, json.dumps(body)


def stripe_error(status: int, type_: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"type": type_, "code": code, "message": "stubbed"}}


def google_rows(
    value: str, currency: str = "USD", *, time_zone: str = "America/Los_Angeles", day: str = "2026-06-03"
) -> dict[str, Any]:
    """A search answer for providers.google_ads.QUERY: one campaign's value by conversion date,
    in the customer's own zone and day."""
    return {
        "results": [
            {
                "customer": {"currencyCode": currency, "timeZone": time_zone},
                "campaign": {"id": "1"},
                "segments": {"date": day},
                "metrics": {"conversionsValueByConversionDate": value, "conversionsByConversionDate": "1.0"},
            }
        ]
    }


class Platforms:
    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.stripe = Stub(bearer)
        self.google = Stub(bearer)
        self.google_token = Stub(lambda request: urllib.parse.parse_qs(request.body)["refresh_token"][0])
        rsps.add_callback("GET", STRIPE_CHARGES, callback=self.stripe)
        rsps.add_callback("GET", STRIPE_DISPUTES, callback=stripe_no_disputes)
        rsps.add_callback("POST", GOOGLE_TOKEN, callback=self.google_token)
        self.rsps = rsps

    def google_customer(self, customer: str) -> None:
        self.rsps.add_callback("POST", GOOGLE_SEARCH.format(customer=customer), callback=self.google)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self.current += timedelta(seconds=seconds)


def run_in_threads(count: int, target: Callable[[int], Any]) -> list[Any]:
    """Run `target(i)` in `count` threads at once; each closes its own connection.
    Returns results (or the exception raised) in order."""
    results: list[Any] = [None] * count
    start = threading.Barrier(count)

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = target(i)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def waiting_advisory_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return cursor.fetchone()[0]


def held_advisory_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        return cursor.fetchone()[0]


def terminate_server_session() -> None:
    """End the server side of the default connection, as a crash or a network cut would:
    its next statement fails. (The runtime role may end its own sessions.)"""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Block until `condition()` holds (a synchronisation point, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)
