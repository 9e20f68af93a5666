"""Money as integers in a currency's minor unit, converted exactly with Decimal.

The ISO 4217 exponents come from the `iso4217` package, which ships the standard's
own table (list one, maintained by SIX); nothing here is typed from memory.
"""

from __future__ import annotations

import functools
import re
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

from iso4217 import Currency

from providers.errors import ProviderBadResponse


@functools.cache
def currency_exponent(code: str) -> int:
    """Decimal places of the minor unit: 2 for USD, 0 for JPY, 3 for KWD.

    Codes without a minor unit in the standard (XAU and friends) are not money we count.
    """
    try:
        exponent = Currency(code.upper()).exponent
    except (ValueError, AttributeError):
        raise ProviderBadResponse(f"unknown currency code {code!r}") from None
    if exponent is None:
        raise ProviderBadResponse(f"currency {code!r} has no minor unit")
    return exponent


def normalise_currency(code: object) -> str:
    """Upper-case ISO code, validated against the standard."""
    if not isinstance(code, str) or not code.strip():
        raise ProviderBadResponse("missing currency code")
    code = code.strip().upper()
    currency_exponent(code)
    return code


def decimal_to_minor(amount: object, currency: str, *, exact: bool = True) -> int:
    """Convert a decimal amount in major units ("12.5", "1250.0", 12, "12.345") to minor units.

    Strings, ints and Decimals (JSON parsed with `parse_float=Decimal`) are accepted; floats
    are refused because they are not exact. With `exact` (charged amounts) a value with more
    decimals than the currency has is refused: silently rounding money would hide a platform
    change. Computed figures such as an ad platform's conversion value pass `exact=False`
    and are rounded half-even to the minor unit.
    """
    if isinstance(amount, bool) or isinstance(amount, float):
        raise ProviderBadResponse(f"amount {amount!r} is not an exact decimal")
    plain = _plain_to_minor(amount, currency_exponent(currency))
    return plain if plain is not None else _decimal_to_minor(amount, currency, exact=exact)


def _decimal_to_minor(amount: object, currency: str, *, exact: bool) -> int:
    """The general conversion, through Decimal (any form Decimal accepts, and rounding)."""
    try:
        value = Decimal(str(amount).strip())
    except (InvalidOperation, ValueError):
        raise ProviderBadResponse(f"amount {amount!r} is not a decimal number") from None
    if not value.is_finite():
        raise ProviderBadResponse(f"amount {amount!r} is not a finite number")
    minor = _scaled(value, currency_exponent(currency))
    rounded = minor.to_integral_value(rounding=ROUND_HALF_EVEN)
    if exact and minor != rounded:
        raise ProviderBadResponse(f"amount {amount!r} has more decimals than {currency} allows")
    return int(rounded)


# "12", "-3.10", "1200.0": what platforms send almost always, converted with integers.
_PLAIN_DECIMAL = re.compile(r"(-?)([0-9]+)(?:\.([0-9]*))?")


def _plain_to_minor(amount: object, exponent: int) -> int | None:
    """The common cases without Decimal (a page has hundreds of amounts): an int, or a
    plain ASCII decimal string with no more significant decimals than the currency has.
    None for anything else, which takes the exact Decimal path."""
    if type(amount) is int:
        return amount * 10**exponent
    if type(amount) is not str:
        return None
    match = _PLAIN_DECIMAL.fullmatch(amount.strip())
    if match is None:
        return None
    sign, whole, fraction = match[1], match[2], (match[3] or "").rstrip("0")
    if len(fraction) > exponent:
        return None  # more decimals than the currency has: the Decimal path decides
    minor = int(whole) * 10**exponent + int(fraction.ljust(exponent, "0") or "0")
    return -minor if sign else minor


def micros_to_minor(micros: object, currency: str) -> int:
    """Google's micros are 10^-6 of a major unit. The integer is exact; the step to the
    currency's minor unit rounds half-even (micros are finer than any minor unit)."""
    if isinstance(micros, bool) or isinstance(micros, float):
        raise ProviderBadResponse(f"micros {micros!r} is not an integer")
    try:
        value = Decimal(str(micros).strip())
    except (InvalidOperation, ValueError):
        raise ProviderBadResponse(f"micros {micros!r} is not a number") from None
    if not value.is_finite() or value != value.to_integral_value():
        raise ProviderBadResponse(f"micros {micros!r} is not an integer")
    minor = _scaled(value, currency_exponent(currency) - 6)
    return int(minor.to_integral_value(rounding=ROUND_HALF_EVEN))


def _scaled(value: Decimal, places: int) -> Decimal:
    """`value` × 10**places, exactly: `scaleb` under the default context rounds any
    coefficient longer than 28 digits, which would silently round huge amounts."""
    return value.scaleb(places, context=_exact_context(max(28, len(value.as_tuple().digits))))


@functools.cache
def _exact_context(precision: int) -> Context:
    # Built once per precision: every amount of every page goes through here.
    return Context(prec=precision)


def add_amount(amounts: dict[str, int], currency: str, minor: int) -> None:
    amounts[currency] = amounts.get(currency, 0) + minor
