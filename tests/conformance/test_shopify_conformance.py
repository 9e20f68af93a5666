"""Shopify against its published schema, not against our reading of it.

The vendored subset of the Admin GraphQL schema (tests/fixtures/specs/shopify_admin_2026-10.graphql,
cut from Shopify's own introspection; see its SOURCE file) checks both sides:

- what the adapter sends: `ORDERS_QUERY` and `SHOP_QUERY` validate (every field, argument and
  enum literal exists, selections fit their types), and the variables of every request it
  really makes coerce to the declared variable types;
- what the simulator answers: each `data` is re-executed against the schema with the answer
  as the root value and graphql-core's default resolvers, which must give no error and the
  identical result. Non-null fields, enum values (`OrderDisplayFinancialStatus`,
  `CurrencyCode`, …), object shapes and Shopify's string scalars (`Decimal`, `DateTime`,
  `UnsignedInt64`, as their descriptions define them) are thereby checked, for every
  financial status, test and cancelled orders, multi-currency shops and across pages.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from graphql import (
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    get_named_type,
    graphql_sync,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values

from providers import shopify as shopify_adapter
from providers.base import CredentialCheckContext, ProviderContext
from providers.sandbox import shopify as simulated
from providers.shopify import API_VERSION, ORDERS_QUERY, SHOP_QUERY, ShopifyProvider

SPEC = Path(__file__).resolve().parent.parent / "fixtures" / "specs" / "shopify_admin_2026-10.graphql"
ZONE = ZoneInfo("Europe/Berlin")
FINANCIAL_STATUSES = {
    "PENDING",
    "AUTHORIZED",
    "PARTIALLY_PAID",
    "PAID",
    "PARTIALLY_REFUNDED",
    "REFUNDED",
    "VOIDED",
    "EXPIRED",
}
# Late in the (UTC) day, so that the day's refunds and cancellations have happened;
# several shops and days, so that every kind of order appears.
MOMENTS = (datetime(2026, 6, 3, 21, 30, tzinfo=UTC), datetime(2026, 6, 4, 22, 45, tzinfo=UTC))
SHOPS = (
    "conformance.myshopify.com",
    "conformance-multi.myshopify.com",
    "conformance-jpy-multi.myshopify.com",
    "conformance-kwd.myshopify.com",
)


# --- the schema, with Shopify's scalars as their descriptions define them ---------------------


def _scalar(pattern: str, check: Any = None) -> Any:
    compiled = re.compile(pattern)

    def serialize(value: Any) -> str:
        if not isinstance(value, str) or not compiled.fullmatch(value) or (check and not check(value)):
            raise GraphQLError(f"{value!r} is not of this scalar's documented form")
        return value

    return serialize


def _aware(value: str) -> bool:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None


def _checked(built: GraphQLSchema, name: str, coerce: Any) -> None:
    scalar = built.type_map[name]
    scalar.coerce_output_value = coerce  # type: ignore[attr-defined]  # graphql-core 3.3's name
    scalar.serialize = coerce  # type: ignore[attr-defined]  # and its older one


@functools.cache
def schema() -> GraphQLSchema:
    built = build_schema(SPEC.read_text())
    # "A signed decimal number, which supports arbitrary precision and is serialized as a string."
    _checked(built, "Decimal", _scalar(r"-?[0-9]+(\.[0-9]+)?"))
    # "An ISO 8601-encoded date and time string", e.g. "2019-09-07T15:50:00Z".
    date_time = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"
    _checked(built, "DateTime", _scalar(date_time, _aware))
    # "An unsigned 64-bit integer … encoded as a string of base-10 digits."
    _checked(built, "UnsignedInt64", _scalar(r"[0-9]+", lambda v: int(v) < 2**64))
    return built


def request_errors(body: dict[str, Any]) -> list[str]:
    """What is wrong with a GraphQL request body ({"query", "variables"}) for this schema."""
    document = parse(body["query"])
    errors = [e.message for e in validate(schema(), document)]
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    for operation in operations:
        coerced = get_variable_values(schema(), operation.variable_definitions or [], body.get("variables") or {})
        if isinstance(coerced, list):
            errors += [e.message for e in coerced]
    return errors


def answer_errors(body: dict[str, Any], data: Any) -> list[str]:
    """What is wrong with `data` as the answer to the request `body`: re-executed with the
    answer as root value, the schema must accept every value and give it back unchanged."""
    result = graphql_sync(schema(), body["query"], root_value=data, variable_values=body.get("variables"))
    errors = [f"{e.message} at {e.path}" for e in result.errors or []]
    if not errors and result.data != data:
        errors.append("the answer holds values the query did not select")
    return errors


# --- recording the adapter's exchanges with the simulator ------------------------------------


def _recording(provider: ShopifyProvider, exchanges: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    send = provider.http.request

    def request(*args: Any, **kwargs: Any) -> Any:
        response = send(*args, **kwargs)
        exchanges.append((kwargs["json_body"], json.loads(response.body)))
        return response

    provider.http.request = request  # type: ignore[method-assign]


def _context(shop: str, now: datetime) -> ProviderContext:
    end = now.astimezone(ZONE)
    return ProviderContext(
        tenant_id=uuid.uuid4(),
        connection_id=uuid.uuid4(),
        platform_account_id=shop,
        connection_metadata={},
        access_token="shpat_conformance",
        window_start=end.replace(hour=0, minute=0, second=0, microsecond=0),
        window_end=end,
        correlation_id=str(uuid.uuid4()),
    )


def _fields(type_name: str) -> str:
    """A selection of every field of a vendored type (money in both currencies)."""
    parts = []
    for name, field in schema().type_map[type_name].fields.items():  # type: ignore[attr-defined]
        named = get_named_type(field.type)
        parts.append(f"{name} {{ {_fields(named.name)} }}" if isinstance(named, GraphQLObjectType) else name)
    return " ".join(parts)


def wide_query() -> str:
    """Every field the vendored schema has for an order and a page, which is every field the
    simulator answers (see `test_the_simulators_schema_is_the_published_one`)."""
    return (
        "query Wide($first: Int!, $after: String, $query: String) {\n"
        "  orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT, reverse: false) {\n"
        f"    edges {{ cursor node {{ {_fields('Order')} }} }}\n"
        "    nodes { id }\n"
        f"    pageInfo {{ {_fields('PageInfo')} }}\n"
        "  }\n"
        f"  shop {{ {_fields('Shop')} }}\n"
        "}"
    )


@pytest.fixture
def exchanges(sandbox: Any) -> Iterator[list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Every request the adapter made and every answer it got: a revenue fetch and a
    credential check per shop and moment, pages capped at 7 orders so that paging runs."""
    recorded: list[tuple[dict[str, Any], dict[str, Any]]] = []
    sandbox.configure(page_cap=7)
    for now in MOMENTS:
        sandbox.set_now(now)
        for shop in SHOPS:
            provider = ShopifyProvider(base_url=sandbox.url)
            _recording(provider, recorded)
            provider.fetch_revenue(_context(shop, now))
            provider.verify_credentials(
                CredentialCheckContext(
                    platform_account_id=shop, connection_metadata={}, access_token="shpat_c", correlation_id="c"
                )
            )
    yield recorded


def wide_answers(sandbox: Any) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Every page of the wide query for every shop and moment, straight from the simulator."""
    query = wide_query()
    for now in MOMENTS:
        sandbox.set_now(now)
        day = now.replace(hour=0, minute=0, second=0)
        for shop in SHOPS:
            after = None
            while True:
                variables = {"first": 100, "after": after, "query": f"created_at:>='{day.isoformat()}'"}
                body = {"query": query, "variables": variables}
                answer = requests.post(
                    f"{sandbox.url}/admin/api/{API_VERSION}/graphql.json",
                    json=body,
                    headers={"X-Shopify-Access-Token": "shpat_c", "X-Skeldir-Shop": shop},
                    timeout=10,
                ).json()
                yield body, answer
                info = answer["data"]["orders"]["pageInfo"]
                if not info["hasNextPage"]:
                    break
                after = info["endCursor"]


# --- what the adapter sends -------------------------------------------------------------------


@pytest.mark.parametrize("query", [ORDERS_QUERY, SHOP_QUERY], ids=["orders", "shop"])
def test_the_adapters_queries_validate_against_the_published_schema(query: str) -> None:
    assert [e.message for e in validate(schema(), parse(query))] == []


def test_every_request_the_adapter_sends_is_valid(exchanges: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    pages = [body for body, _ in exchanges if body["query"] == ORDERS_QUERY]
    assert len(pages) > 2 * len(SHOPS) * len(MOMENTS)  # paging ran
    assert any(body["variables"]["after"] for body in pages)
    for body, _ in exchanges:
        assert request_errors(body) == [], body


def test_the_checker_refuses_what_the_schema_does_not_have() -> None:
    assert request_errors({"query": "{ orders(first: 1, sortKey: NEWEST) { nodes { id } } }"})
    assert request_errors({"query": "{ orders(first: 1) { nodes { totalReceived } } }"})
    assert request_errors({"query": "{ orders(first: 1) { nodes { totalReceivedSet { amount } } } }"})
    assert request_errors({"query": ORDERS_QUERY, "variables": {"first": "250"}})
    assert request_errors({"query": ORDERS_QUERY, "variables": {"after": None}})  # first is Int!


# --- what the simulator answers ----------------------------------------------------------------


def test_every_answer_the_adapter_got_conforms(exchanges: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    for body, answer in exchanges:
        assert "errors" not in answer
        assert answer_errors(body, answer["data"]) == [], body["variables"] if "variables" in body else body


def test_every_field_the_simulator_answers_conforms_in_every_case(sandbox: Any) -> None:
    nodes = []
    for body, answer in wide_answers(sandbox):
        assert "errors" not in answer, answer.get("errors")
        assert answer_errors(body, answer["data"]) == []
        nodes += [edge["node"] for edge in answer["data"]["orders"]["edges"]]

    # The cases the rule turns on all occurred, and conformed.
    assert {n["displayFinancialStatus"] for n in nodes} == FINANCIAL_STATUSES
    assert any(n["test"] for n in nodes)
    assert any(n["cancelledAt"] and n["displayFinancialStatus"] == "VOIDED" for n in nodes)
    assert any(n["cancelledAt"] and n["displayFinancialStatus"] == "PAID" for n in nodes)
    assert any(
        n["displayFinancialStatus"] == "PARTIALLY_REFUNDED" and n["createdAt"][:10] == n["updatedAt"][:10]
        for n in nodes
    )
    foreign = [n for n in nodes if n["presentmentCurrencyCode"] != n["currencyCode"]]
    assert foreign and all(
        n["totalReceivedSet"]["presentmentMoney"]["currencyCode"] != n["totalReceivedSet"]["shopMoney"]["currencyCode"]
        for n in foreign
    )
    assert {n["currencyCode"] for n in nodes} == {"USD", "JPY", "KWD"}


def test_the_checker_refuses_an_answer_the_schema_does_not_allow() -> None:
    body = {"query": ORDERS_QUERY, "variables": {"first": 1, "after": None, "query": None}}
    node = {
        "id": "gid://shopify/Order/1",
        "name": "#1001",
        "createdAt": "2026-06-03T10:00:00Z",
        "test": False,
        "cancelledAt": None,
        "displayFinancialStatus": "PAID",
        "totalReceivedSet": {"shopMoney": {"amount": "12.5", "currencyCode": "USD"}},
        "totalRefundedSet": {"shopMoney": {"amount": "0.0", "currencyCode": "USD"}},
    }

    def data(**changes: Any) -> dict[str, Any]:
        changed = {**node, **changes}
        page = {"edges": [{"node": changed}], "pageInfo": {"hasNextPage": False, "endCursor": "c1"}}
        return {"orders": page}

    assert answer_errors(body, data()) == []
    assert answer_errors(body, data(displayFinancialStatus="CAPTURED"))
    assert answer_errors(body, data(totalRefundedSet={"shopMoney": {"amount": "0.0", "currencyCode": "usd"}}))
    assert answer_errors(body, data(totalReceivedSet={"shopMoney": {"amount": 12.5, "currencyCode": "USD"}}))
    assert answer_errors(body, data(totalReceivedSet=None))
    assert answer_errors(body, data(createdAt="2026-06-03 10:00"))
    assert answer_errors(body, data(test=None))


def test_the_simulators_schema_is_the_published_one() -> None:
    """Every field the simulator's own schema answers exists in the published schema, with
    the same type (the simulator lists types by name, `[X]` for a list)."""
    published = schema()
    for type_name, fields in simulated.SCHEMA.items():
        real = published.type_map[type_name]
        assert isinstance(real, GraphQLObjectType), type_name
        for name, declared in fields.items():
            assert name in real.fields, f"{type_name}.{name} is not in the published schema"
            kind = real.fields[name].type
            kind = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
            shown = f"[{get_named_type(kind).name}]" if isinstance(kind, GraphQLList) else get_named_type(kind).name
            assert declared == shown, f"{type_name}.{name}: simulator {declared}, published {shown}"
    orders = published.query_type.fields["orders"]  # type: ignore[union-attr]
    assert set(orders.args) == simulated.ORDERS_ARGUMENTS
    assert set(published.type_map["OrderSortKeys"].values) == simulated.ORDER_SORT_KEYS  # type: ignore[attr-defined]
    assert set(published.type_map["OrderDisplayFinancialStatus"].values) == FINANCIAL_STATUSES  # type: ignore[attr-defined]
    assert simulated.FINANCIAL_STATUSES == FINANCIAL_STATUSES
    assert shopify_adapter.FINANCIAL_STATUSES == FINANCIAL_STATUSES  # its closed set: anything else is bad_response


def test_amounts_are_exact_decimal_strings_in_the_shops_currency(sandbox: Any) -> None:
    for _, answer in wide_answers(sandbox):
        for edge in answer["data"]["orders"]["edges"]:
            order = edge["node"]
            for field in ("totalReceivedSet", "totalRefundedSet", "netPaymentSet", "totalPriceSet"):
                shop_money = order[field]["shopMoney"]
                assert shop_money["currencyCode"] == order["currencyCode"]
                assert order[field]["presentmentMoney"]["currencyCode"] == order["presentmentCurrencyCode"]
                assert Decimal(shop_money["amount"]) >= 0
            received = Decimal(order["totalReceivedSet"]["shopMoney"]["amount"])
            refunded = Decimal(order["totalRefundedSet"]["shopMoney"]["amount"])
            assert Decimal(order["netPaymentSet"]["shopMoney"]["amount"]) == received - refunded
