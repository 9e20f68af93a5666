"""providers.money: exact conversion of major-unit decimals and micros to ISO 4217 minor units."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.errors import ProviderBadResponse
from providers.money import (
    _decimal_to_minor,
    _plain_to_minor,
    add_amount,
    currency_exponent,
    decimal_to_minor,
    micros_to_minor,
    normalise_currency,
)


@pytest.mark.parametrize(("code", "exponent"), [("USD", 2), ("jpy", 0), ("KWD", 3), ("ISK", 0), ("CLF", 4)])
def test_exponents_come_from_the_iso_table(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("1200", "JPY", 1200),
        ("1200.0", "JPY", 1200),
        ("12.345", "KWD", 12345),
        ("12.3", "KWD", 12300),
        ("12.5", "USD", 1250),
        ("1250.0", "USD", 125000),
        ("0.01", "USD", 1),
        (" 3.10 ", "USD", 310),
        ("-3.00", "USD", -300),
        (12, "USD", 1200),
        (Decimal("19.99"), "EUR", 1999),
        ("123456789012345678901234567890.12", "USD", 12345678901234567890123456789012),
    ],
)
def test_exact_conversion(amount: object, currency: str, minor: int) -> None:
    assert decimal_to_minor(amount, currency) == minor


@pytest.mark.parametrize("amount", [12.5, 0.1, True])
def test_floats_and_booleans_are_refused(amount: object) -> None:
    with pytest.raises(ProviderBadResponse, match="not an exact decimal"):
        decimal_to_minor(amount, "USD")


@pytest.mark.parametrize(("amount", "currency"), [("12.345", "USD"), ("12.5", "JPY"), ("1.0001", "KWD")])
def test_too_many_decimals_are_refused_when_exact(amount: str, currency: str) -> None:
    with pytest.raises(ProviderBadResponse, match=f"more decimals than {currency} allows"):
        decimal_to_minor(amount, currency)


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("0.125", "USD", 12), ("0.135", "USD", 14), ("12.3456", "KWD", 12346), ("2.5", "JPY", 2), ("3.5", "JPY", 4)],
)
def test_inexact_conversion_rounds_half_even(amount: str, currency: str, minor: int) -> None:
    assert decimal_to_minor(amount, currency, exact=False) == minor


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "abc", "", None, "1,50"])
def test_non_numbers_are_refused(amount: object) -> None:
    with pytest.raises(ProviderBadResponse):
        decimal_to_minor(amount, "USD")


@pytest.mark.parametrize(
    ("micros", "currency", "minor"),
    [
        (123_450_000, "USD", 12345),
        ("123450000", "USD", 12345),  # Google sends int64 as a JSON string
        (125_000, "USD", 12),  # 12.5 cents: half-even
        (135_000, "USD", 14),
        (1_500_000, "JPY", 2),
        (2_500_000, "JPY", 2),
        (12_345_678, "KWD", 12346),
        (0, "EUR", 0),
    ],
)
def test_micros_round_half_even_to_the_minor_unit(micros: object, currency: str, minor: int) -> None:
    assert micros_to_minor(micros, currency) == minor


@pytest.mark.parametrize("micros", [1.5, "1.5", True, "x", None])
def test_micros_must_be_integers(micros: object) -> None:
    with pytest.raises(ProviderBadResponse):
        micros_to_minor(micros, "USD")


@pytest.mark.parametrize("code", ["ZZZ", "EURO", "usd1"])
def test_unknown_currency_is_a_bad_response(code: str) -> None:
    with pytest.raises(ProviderBadResponse, match="unknown currency"):
        decimal_to_minor("1.00", code)


def test_currency_without_minor_unit_is_a_bad_response() -> None:
    with pytest.raises(ProviderBadResponse, match="no minor unit"):
        normalise_currency("XAU")


@pytest.mark.parametrize("code", [None, 5, "", "   "])
def test_missing_currency_is_a_bad_response(code: object) -> None:
    with pytest.raises(ProviderBadResponse, match="missing currency"):
        normalise_currency(code)


def test_normalise_currency_upper_cases_and_strips() -> None:
    assert normalise_currency(" eur ") == "EUR"


def test_add_amount_keeps_currencies_apart() -> None:
    amounts: dict[str, int] = {}
    add_amount(amounts, "USD", 100)
    add_amount(amounts, "EUR", 5)
    add_amount(amounts, "USD", 1)
    assert amounts == {"USD": 101, "EUR": 5}


@settings(max_examples=500, deadline=None)
@given(
    sign=st.sampled_from(["", "-"]),
    whole=st.text("0123456789", min_size=1, max_size=30),
    fraction=st.none() | st.text("0123456789", max_size=6),
    pad=st.sampled_from(["", " ", "\t"]),
    currency=st.sampled_from(["USD", "JPY", "KWD", "CLF"]),
)
def test_the_integer_fast_path_agrees_with_the_decimal_conversion(sign, whole, fraction, pad, currency) -> None:
    amount = f"{pad}{sign}{whole}{'' if fraction is None else '.' + fraction}{pad}"
    fast = _plain_to_minor(amount, currency_exponent(currency))
    try:
        exact = _decimal_to_minor(amount, currency, exact=True)
    except ProviderBadResponse:
        assert fast is None  # too many decimals: left to the Decimal path, which refuses it
        return
    assert fast == exact
    assert _plain_to_minor(int(Decimal(amount)), currency_exponent(currency)) == (
        _decimal_to_minor(int(Decimal(amount)), currency, exact=True)
    )
