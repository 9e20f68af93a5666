"""Stripe's published OpenAPI document holds our side and the simulator's side of every call.

The document is the vendored subset `tests/fixtures/specs/stripe.json` (see
stripe.SOURCE.md). (a) Every request the Stripe adapter makes — the charges list with its
pages, the disputes list with its pages, the credential check — is recorded as it leaves
the adapter, over real HTTP to the simulator, and passes `check_request`. (b) Every answer
the simulator gives on those endpoints — charges of every kind, disputes in every status,
its error bodies — passes `check_response`. (c) Over the same simulator the adapter's
figure is the rule applied by hand to the simulator's own lists.
"""

from __future__ import annotations

import collections
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from providers.base import CredentialCheckContext, ProviderContext
from providers.sandbox import Sandbox
from providers.stripe import API_VERSION, CHARGE_STATUSES, DISPUTE_STATUSES, StripeProvider
from tests.conformance.openapi import OpenApiDocument, SpecViolation, load

NOW = datetime(2026, 6, 3, 23, 30, tzinfo=UTC)
DAY_START = NOW.replace(hour=0, minute=0)
# A busy USD account: every kind of charge and of dispute happens on this simulated day.
ACCOUNT = "acct_rules-busy"
KEY = "sk_test_conformance"


@pytest.fixture
def spec() -> OpenApiDocument:
    return load("stripe.json")


@pytest.fixture
def simulator(sandbox: Sandbox) -> Sandbox:
    sandbox.set_now(NOW)
    return sandbox


def context(**overrides: Any) -> ProviderContext:
    values: dict[str, Any] = {
        "tenant_id": uuid.uuid4(),
        "connection_id": uuid.uuid4(),
        "platform_account_id": ACCOUNT,
        "connection_metadata": {"connect": True},
        "access_token": KEY,
        "window_start": DAY_START,
        "window_end": NOW,
        "correlation_id": str(uuid.uuid4()),
    }
    return ProviderContext(**{**values, **overrides})


class Recorder:
    """Wraps an adapter's ProviderHttp: every request as sent (method, url, query) and its answer."""

    def __init__(self, provider: StripeProvider) -> None:
        self.exchanges: list[tuple[str, str, list[tuple[str, str]], int, Any]] = []
        original = provider.http.request

        def request(method: str, url: str, **kwargs: Any) -> Any:
            response = original(method, url, **kwargs)
            params = [(k, str(v)) for k, v in (kwargs.get("params") or {}).items()]
            self.exchanges.append((method, url, params, response.status, json.loads(response.body)))
            return response

        provider.http.request = request  # type: ignore[method-assign]


def stripe_get(sandbox: Sandbox, path: str, key: str | None = KEY, **params: Any) -> requests.Response:
    headers = {"Stripe-Version": API_VERSION, "Stripe-Account": ACCOUNT}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return requests.get(f"{sandbox.url}{path}", params=params, headers=headers, timeout=10)


def every(sandbox: Sandbox, path: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = stripe_get(sandbox, path, limit=100, **params).json()
        found += page["data"]
        if not page["has_more"]:
            return found
        params["starting_after"] = page["data"][-1]["id"]


# --- (a) what the adapter sends ---------------------------------------------------------------


def test_every_request_the_adapter_makes_is_in_the_spec(simulator: Sandbox, spec: OpenApiDocument) -> None:
    simulator.configure(page_cap=10)  # several pages of charges and of disputes
    provider = StripeProvider(base_url=simulator.url)
    recorder = Recorder(provider)
    provider.fetch_revenue(context())
    provider.verify_credentials(
        CredentialCheckContext(
            platform_account_id=ACCOUNT, connection_metadata={"connect": True}, access_token=KEY, correlation_id="c"
        )
    )

    paths = collections.Counter(url.rsplit("/", 1)[-1] for _, url, _, _, _ in recorder.exchanges)
    assert paths["charges"] >= 3 and paths["disputes"] >= 2  # pages followed on both lists
    cursors = [dict(params).get("starting_after") for _, _, params, _, _ in recorder.exchanges]
    assert any(c and c.startswith("ch_") for c in cursors) and any(c and c.startswith("dp_") for c in cursors)
    for method, url, params, _, _ in recorder.exchanges:
        spec.check_request(method, url, params=params)


def test_the_adapters_closed_status_sets_are_the_specs_enums(spec: OpenApiDocument) -> None:
    """A status outside these sets is a bad_response: they must be exactly what Stripe publishes."""
    schemas = spec.document["components"]["schemas"]
    assert set(schemas["charge"]["properties"]["status"]["enum"]) == CHARGE_STATUSES
    assert set(schemas["dispute"]["properties"]["status"]["enum"]) == DISPUTE_STATUSES


def test_a_request_outside_the_spec_is_caught(spec: OpenApiDocument) -> None:
    # The guard itself: a made-up filter on the disputes list, a cursor the list does not take.
    with pytest.raises(SpecViolation, match="'status' is not declared"):
        spec.check_request("GET", "https://api.stripe.com/v1/disputes", params=[("status", "lost")])
    with pytest.raises(SpecViolation, match="no member 'since'"):
        spec.check_request("GET", "https://api.stripe.com/v1/charges", params=[("created[since]", "1")])


# --- (b) what the simulator answers ----------------------------------------------------------


def test_the_simulators_answers_to_the_adapter_are_in_the_spec(simulator: Sandbox, spec: OpenApiDocument) -> None:
    simulator.configure(page_cap=10)
    provider = StripeProvider(base_url=simulator.url)
    recorder = Recorder(provider)
    provider.fetch_revenue(context())
    assert len(recorder.exchanges) >= 5
    for method, url, _, status, body in recorder.exchanges:
        spec.check_response(method, url, status, body)


def test_charges_of_every_kind_are_in_the_spec(simulator: Sandbox, spec: OpenApiDocument) -> None:
    since = int((DAY_START - timedelta(days=3)).timestamp())
    response = stripe_get(simulator, "/v1/charges", limit=100, **{"created[gte]": since})
    charges = every(simulator, "/v1/charges", **{"created[gte]": since})
    kinds = {
        "failed": lambda c: c["status"] == "failed" and not c["captured"],
        "pending": lambda c: c["status"] == "pending",
        "uncaptured": lambda c: c["status"] == "succeeded" and not c["captured"],
        "partially captured": lambda c: c["captured"] and 0 < c["amount_captured"] < c["amount"],
        "refunded": lambda c: c["refunded"] and c["amount_refunded"] == c["amount_captured"],
        "partially refunded": lambda c: not c["refunded"] and c["amount_refunded"] > 0,
        "disputed": lambda c: c["disputed"],
    }
    assert {kind for kind, test in kinds.items() if any(test(c) for c in charges)} == set(kinds)
    spec.check_response("GET", response.url, 200, response.json())
    spec.check_response(
        "GET", response.url, 200, {"object": "list", "url": "/v1/charges", "has_more": False, "data": charges}
    )


def test_disputes_in_every_status_are_in_the_spec(simulator: Sandbox, spec: OpenApiDocument) -> None:
    since = int((DAY_START - timedelta(days=3)).timestamp())
    disputes = every(simulator, "/v1/disputes", **{"created[gte]": since})
    statuses = {d["status"] for d in disputes}
    assert {"lost", "won", "under_review", "warning_under_review"} <= statuses
    one_charge = stripe_get(simulator, "/v1/disputes", charge=disputes[0]["charge"])
    assert [d["id"] for d in one_charge.json()["data"]] == [disputes[0]["id"]]
    for body in (
        {"object": "list", "url": "/v1/disputes", "has_more": False, "data": disputes},
        one_charge.json(),
    ):
        spec.check_response("GET", one_charge.url, 200, body)
    # Each dispute just after it was opened, before anything happened to it.
    opened = set()
    for dispute in disputes:
        simulator.set_now(datetime.fromtimestamp(dispute["created"] + 1, UTC))
        fresh = stripe_get(simulator, "/v1/disputes", charge=dispute["charge"])
        spec.check_response("GET", fresh.url, 200, fresh.json())
        opened |= {d["status"] for d in fresh.json()["data"]}
    assert opened == {"needs_response", "warning_needs_response"}


@pytest.mark.parametrize(
    ("path", "key", "params", "status"),
    [
        ("/v1/charges", None, {}, 401),
        ("/v1/disputes", None, {}, 401),
        ("/v1/charges", KEY, {"since": "1"}, 400),
        ("/v1/disputes", KEY, {"status": "lost"}, 400),
        ("/v1/disputes", KEY, {"starting_after": "dp_unknown"}, 400),
        ("/v1/charges", KEY, {"limit": "500"}, 400),
        ("/v1/disputes", KEY, {"created[gte]": "yesterday"}, 400),
    ],
)
def test_error_bodies_are_in_the_spec(
    simulator: Sandbox, spec: OpenApiDocument, path: str, key: str | None, params: dict[str, str], status: int
) -> None:
    response = stripe_get(simulator, path, key=key, **params)
    assert response.status_code == status
    spec.check_response("GET", response.url, status, response.json())


@pytest.mark.parametrize("fault", ["403", "429", "500", "503"])
def test_fault_bodies_are_in_the_spec(simulator: Sandbox, spec: OpenApiDocument, fault: str) -> None:
    simulator.set_fault("stripe", ACCOUNT, fault)
    for path in ("/v1/charges", "/v1/disputes"):
        response = stripe_get(simulator, path)
        assert response.status_code == int(fault)
        spec.check_response("GET", response.url, response.status_code, response.json())


# --- (c) the rule, over the simulator ---------------------------------------------------------


def test_the_adapters_figure_is_the_rule_applied_to_the_simulators_lists(simulator: Sandbox) -> None:
    window = {"created[gte]": int(DAY_START.timestamp()), "created[lt]": int(NOW.timestamp()) + 1}
    charges = every(simulator, "/v1/charges", **window)
    disputes = every(simulator, "/v1/disputes", **{"created[gte]": window["created[gte]"]})
    lost: dict[str, int] = collections.defaultdict(int)
    for d in disputes:
        if d["status"] == "lost":
            lost[d["charge"]] += d["amount"]
    nets = [
        max(
            0,
            (c["amount_captured"] if c["status"] == "succeeded" and c["captured"] else 0)
            - c["amount_refunded"]
            - lost[c["id"]],
        )
        for c in charges
    ]
    # The day has what the rule is about: a lost dispute on one of its own charges, refunds.
    assert any(c["id"] in lost and c["amount_captured"] for c in charges)
    assert any(c["amount_refunded"] for c in charges)

    result = StripeProvider(base_url=simulator.url).fetch_revenue(context())
    assert result.amounts == {"USD": sum(nets)}
    assert result.count == sum(1 for n in nets if n > 0)
    assert result.basis is not None and result.basis.measure == "captured_minus_refunds_and_lost_disputes"
