"""Deterministic simulated activity, shared by every platform.

Each (platform, account, UTC day) has a fixed list of events — orders, charges,
conversions — at times and with amounts drawn from a random generator seeded with a hash
of those three values. A request sees the events inside its window that have already
happened (time <= now), so the same question gives the same answer and "today" grows as
the day goes on.

Account-name conventions (case-insensitive, anywhere in the account id):

- `-jpy`, `-eur`, `-gbp`, `-kwd`, ... (any ISO 4217 code with a minor unit): the account's
  currency. All-digit ids (Google Ads customers, Meta ad accounts) cannot carry a suffix:
  their last three digits are read as an ISO 4217 numeric code when it is one of
  `NUMERIC_CURRENCIES` (e.g. `...392` is JPY, `...978` EUR). Otherwise USD.
- All-digit ids (Google Ads customers, Meta ad accounts) also carry the ad account's own
  time zone, which ad platforms report "today" in: the FIRST digit picks it from
  `ACCOUNT_ZONES` (`1...` America/Los_Angeles, `2...` America/New_York, `5...` Asia/Tokyo,
  `7...` Asia/Kolkata, `0...` Etc/UTC, ...; see `account_zone`). Other ids are UTC. Event
  generation itself stays per UTC day; a platform cuts the account's local day out of it.
- `-multi`: charges / transactions in a mix of USD, EUR and JPY (Stripe, PayPal); Shopify
  orders presented to customers in a mix of currencies, settled in the shop's one.
- `-busy`: eight times the usual volume, so pagination runs over several pages.
- `-empty`: no activity at all.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import random
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from iso4217 import Currency

# How far back simulated history goes; older windows are empty.
HISTORY_DAYS = 90
EVENTS_PER_DAY = (30, 48)
MULTI_CURRENCIES = ("USD", "EUR", "JPY")
NUMERIC_CURRENCIES = {f"{Currency(code).number:03d}": code for code in ("JPY", "EUR", "GBP", "KWD")}
# An ad account's time zone by the first digit of its all-digit id (see the module docstring):
# zones on both sides of UTC, a half-hour offset (Kolkata) and a southern-hemisphere DST.
ACCOUNT_ZONES = {
    "0": "Etc/UTC",
    "1": "America/Los_Angeles",
    "2": "America/New_York",
    "3": "Europe/London",
    "4": "Europe/Berlin",
    "5": "Asia/Tokyo",
    "6": "Australia/Sydney",
    "7": "Asia/Kolkata",
    "8": "America/Sao_Paulo",
    "9": "Pacific/Auckland",
}
# Every EXCLUDED_EVERY-th event of a day (starting with the third) is one of the platform's
# "must not be counted" kinds, in turn, so each appears within the first hours of a day.
EXCLUDED_EVERY = 5

_SUFFIX = re.compile(r"-([a-z]{3,5})(?![a-z])")


def seed(*parts: object) -> int:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def rng(*parts: object) -> random.Random:
    return random.Random(seed(*parts))


def short_hash(*parts: object, length: int = 10) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:length]


def alnum_id(*parts: object, length: int = 24, upper: bool = False) -> str:
    """A stable id-looking string (Stripe `ch_...`, PayPal transaction ids), up to 40 chars."""
    digest = hashlib.sha512("|".join(str(p) for p in parts).encode()).digest()
    if upper:
        return base64.b32encode(digest).decode()[:length]
    return base64.b64encode(digest).decode().replace("+", "").replace("/", "")[:length]


# --- account conventions -------------------------------------------------------------------


def conventions(account: str) -> set[str]:
    return {m for m in _SUFFIX.findall(account.lower()) if m in ("multi", "busy", "empty")}


def account_currency(account: str) -> str:
    for token in _SUFFIX.findall(account.lower()):
        if len(token) == 3 and _has_minor_unit(token.upper()):
            return token.upper()
    digits = account.lower().removeprefix("act_").replace("-", "")
    if digits.isdigit() and len(digits) >= 3:
        return NUMERIC_CURRENCIES.get(digits[-3:], "USD")
    return "USD"


def account_zone(account: str) -> str:
    """The IANA name of an ad account's own time zone: `ACCOUNT_ZONES` by the first digit of
    an all-digit id (`act_` and dashes ignored), else Etc/UTC."""
    digits = account.lower().removeprefix("act_").replace("-", "")
    return ACCOUNT_ZONES[digits[0]] if digits.isdigit() else "Etc/UTC"


def local_day(zone: str, day: date) -> tuple[datetime, datetime]:
    """[start, end) of a calendar day in `zone`, as aware UTC instants (23 or 25 hours long
    on a DST change)."""
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def derived_account(prefix: str, secret: str) -> str:
    """A stable account name for a credential that does not name its account (a Stripe
    key without Stripe-Account, a PayPal token not minted here). Only a short hash of the
    secret is kept; the conventions found in it carry over, so `sk_test_demo-jpy` is a JPY
    account."""
    suffixes = [
        m
        for m in _SUFFIX.findall(secret.lower())
        if m in ("multi", "busy", "empty") or (len(m) == 3 and _has_minor_unit(m.upper()))
    ]
    return prefix + short_hash(secret) + "".join(f"-{s}" for s in suffixes)


def _has_minor_unit(code: str) -> bool:
    try:
        return Currency(code).exponent is not None
    except ValueError:
        return False


@functools.cache  # a few dozen currencies; every amount formatted asks
def exponent(currency: str) -> int:
    return Currency(currency).exponent or 0


# --- events ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Event:
    platform: str
    account: str
    day: date
    seq: int  # position within the day, 0-based
    at: datetime  # aware UTC
    kind: str
    currency: str
    minor: int  # amount in the currency's minor unit

    def random(self, *salt: object) -> random.Random:
        """A generator for further per-event details (ids, refund parts, fees)."""
        return rng(self.platform, self.account, self.day.isoformat(), self.seq, *salt)

    @property
    def key(self) -> str:
        return f"{self.day.isoformat()}-{self.seq}"

    @property
    def ordinal(self) -> int:
        """A number unique and increasing across the account's history."""
        return (self.day - date(2020, 1, 1)).days * 1000 + self.seq


@dataclasses.dataclass(frozen=True)
class Profile:
    """What a platform's events look like: the kinds that are counted (weighted) and the
    kinds that must not be, and whether one account mixes currencies."""

    counted: tuple[tuple[str, int], ...]
    excluded: tuple[str, ...]
    multi_currency: bool = False


@functools.lru_cache(maxsize=16_384)
def day_events(platform: str, account: str, day: date, profile: Profile) -> tuple[Event, ...]:
    flags = conventions(account)
    if "empty" in flags:
        return ()
    r = rng(platform, account, day.isoformat())
    count = r.randint(*EVENTS_PER_DAY) * (8 if "busy" in flags else 1)
    seconds = sorted(r.sample(range(86_400), count))
    start = datetime.combine(day, time(0), tzinfo=UTC)
    base_currency = account_currency(account)
    kinds, weights = zip(*profile.counted, strict=True)
    events = []
    for seq, second in enumerate(seconds):
        if profile.excluded and seq % EXCLUDED_EVERY == 2:
            kind = profile.excluded[(seq // EXCLUDED_EVERY) % len(profile.excluded)]
        else:
            kind = r.choices(kinds, weights)[0]
        currency = r.choice(MULTI_CURRENCIES) if profile.multi_currency and "multi" in flags else base_currency
        events.append(
            Event(
                platform=platform,
                account=account,
                day=day,
                seq=seq,
                at=start + timedelta(seconds=second),
                kind=kind,
                currency=currency,
                minor=random_minor(r, currency),
            )
        )
    return tuple(events)


def random_minor(r: random.Random, currency: str) -> int:
    """A plausible order value: 5–250 major units (500–25,000 for zero-decimal currencies)."""
    e = exponent(currency)
    if e == 0:
        return r.randint(500, 25_000)
    return r.randint(5 * 10**e, 250 * 10**e)


def events_between(
    platform: str, account: str, profile: Profile, start: datetime | None, end: datetime | None, now: datetime
) -> list[Event]:
    """Events with start <= at < end (either bound may be None) that happened by `now`,
    oldest first."""
    first_day = (now - timedelta(days=HISTORY_DAYS)).date()
    lo = max(first_day, start.astimezone(UTC).date()) if start else first_day
    hi = min(now.date(), end.astimezone(UTC).date()) if end else now.date()
    found: list[Event] = []
    day = lo
    while day <= hi:
        for event in day_events(platform, account, day, profile):
            if event.at > now:
                break
            if (start is None or event.at >= start) and (end is None or event.at < end):
                found.append(event)
        day += timedelta(days=1)
    return found


# --- formatting ----------------------------------------------------------------------------------


def major(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency))


def fixed(minor: int, currency: str) -> str:
    """ "12.50", "1250" (JPY), "12.500" (KWD): the currency's own decimals (integer
    arithmetic: the simulator formats every amount of every page it serves)."""
    e = exponent(currency)
    if e == 0:
        return str(minor)
    whole, fraction = divmod(abs(minor), 10**e)
    return f"{'-' if minor < 0 else ''}{whole}.{fraction:0{e}d}"


def short_decimal(minor: int, currency: str) -> str:
    """Shopify's Decimal scalar: trailing zeros dropped but one decimal kept ("12.5", "1250.0")."""
    text = fixed(minor, currency)
    if "." in text:
        text = text.rstrip("0")
    else:
        text += "."
    return text + "0" if text.endswith(".") else text


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(value: str) -> datetime:
    """ISO 8601 / RFC 3339 (offset `Z`, `+01:00` or `+0100`); a value without an offset is
    UTC. Raises ValueError."""
    moment = datetime.fromisoformat(value.strip().replace(" ", "+") if "T" in value else value.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def unb64(text: str) -> str:
    """Raises ValueError on anything that is not our encoding."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValueError("bad cursor") from None
