"""The simulator's shared pieces: requests and responses, the platform base class, the
fault switches and the mutable state (call counts, faults, revoked credentials, clock).

Everything mutable lives in one `SandboxState` behind one lock, so the server's handler
threads and a test thread changing faults never race.

Faults, set per (platform, account) — account "*" for all of a platform's accounts, an
account's own fault winning — optionally for `times` requests and for one `endpoint`
(see ENDPOINTS: "data", "token", and the authorization servers' "authorize", "identity",
"revoke"). Every request is counted first, faulted or not, per account and per endpoint.

    latency      answer normally after latency_ms (default 200)
    timeout      stall latency_ms (default Settings.timeout_ms, 30 s), then answer normally
    reset        close the connection with a TCP RST, no response
    truncated    the normal answer, with a Content-Length larger than what is sent
    malformed    200, application/json, a body that is not JSON
    html         an HTML page (status 200 unless `status`), as a proxy or CDN sends
    oversized    200 JSON of size_bytes (default 11 MiB); declare_length=False: no
                 Content-Length, read until close
    401 / 403    the platform's credential / permission refusal
    500 / 503    the platform's server error (Retry-After only when retry_after is given)
    429          HTTP 429, the platform's rate-limit body, Retry-After: <retry_after> (default 2 s;
                 Google 30, Meta 60)
    429_date     the same with Retry-After as an HTTP-date retry_after seconds ahead
    throttled    the platform's own throttle signal, with no Retry-After header:
                 Stripe 429 rate_limit + Stripe-Should-Retry; Shopify HTTP 200 THROTTLED
                 with a bucket state implying retry_after s (default 1); PayPal 429
                 RATE_LIMIT_REACHED; WooCommerce 429; Google 429 RESOURCE_EXHAUSTED with
                 quotaErrorDetails.retryDelay "<retry_after>s" (default 30); Meta HTTP 400
                 code 17 with X-Business-Use-Case-Usage estimated_time_to_regain_access in
                 minutes (retry_after default 60 s)
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs

# --- requests and responses ---------------------------------------------------------------


class BadRequest(Exception):
    """Raised by a handler for a malformed request; the platform turns it into its own
    400 shape (see `Platform.bad_request`)."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class Headers:
    """A request's headers, looked up by name in any case; of a repeated name the first
    counts (as `email.message.Message.get`)."""

    __slots__ = ("_values",)

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._values: dict[str, str] = {}
        for name, value in pairs:
            self._values.setdefault(name.lower(), value)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._values.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values


@dataclasses.dataclass
class Request:
    method: str
    path: str
    query_string: str
    headers: Headers
    body: bytes
    base_url: str  # scheme://host[:port] the client used, for absolute links back to us
    params: dict[str, str] = dataclasses.field(default_factory=dict)  # from the route pattern

    @functools.cached_property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string, keep_blank_values=True)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return value.strip() if isinstance(value, str) else None

    def bearer(self) -> str | None:
        """The token of `Authorization: Bearer <token>`, or None."""
        value = self.header("Authorization") or ""
        scheme, _, token = value.partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None

    def basic(self) -> tuple[str, str] | None:
        """(user, password) of `Authorization: Basic ...`, or None."""
        value = self.header("Authorization") or ""
        scheme, _, encoded = value.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return (user, password) if sep else None

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("request body is not valid JSON") from None

    def form(self) -> dict[str, str]:
        try:
            parsed = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise BadRequest("request body is not valid form data") from None
        return {key: values[0] for key, values in parsed.items()}


@dataclasses.dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    @classmethod
    def json(
        cls,
        status: int,
        payload: Any,
        headers: Iterable[tuple[str, str]] = (),
        content_type: str = "application/json; charset=utf-8",
    ) -> Response:
        spliced: list[bytes] = []

        def default(value: Any) -> Any:
            if isinstance(value, Encoded):
                spliced.append(value.data)
                return _SPLICE
            return _json_default(value)

        body = json.dumps(payload, separators=(",", ":"), default=default).encode()
        if spliced:
            parts = body.split(_SPLICED)
            body = b"".join(part + data for part, data in zip(parts, [*spliced, b""], strict=True))
        return cls(status, body, [("Content-Type", content_type), *headers])

    @classmethod
    def text(cls, status: int, text: str, content_type: str, headers: Iterable[tuple[str, str]] = ()) -> Response:
        return cls(status, text.encode(), [("Content-Type", content_type), *headers])

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


@dataclasses.dataclass(frozen=True)
class Encoded:
    """A value already encoded as JSON, which `Response.json` puts in as it is: a record
    that never changes once made is encoded once, not on every page that lists it."""

    data: bytes

    @classmethod
    def of(cls, value: Any) -> Encoded:
        return cls(json.dumps(value, separators=(",", ":"), default=_json_default).encode())


_SPLICE = "\x00encoded\x00"  # what an Encoded stands in for during json.dumps...
_SPLICED = json.dumps(_SPLICE).encode()  # ...and how it comes out, to be replaced


def _json_default(value: Any) -> Any:
    # Decimals (Google's conversion values) go out as JSON numbers, as the platform sends them.
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# --- platforms ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: str  # name of the Platform method
    endpoint: str = "data"  # one of ENDPOINTS: faults may target one of them


def route(method: str, pattern: str, handler: str, endpoint: str = "data") -> Route:
    return Route(method, re.compile(pattern), handler, endpoint)


@dataclasses.dataclass(frozen=True)
class Call:
    """What a platform handler gets besides the request: the simulated time and the state."""

    now: datetime
    state: SandboxState


class Platform:
    """One simulated platform. Subclasses declare `key` and `routes`, name the account a
    request is for (the unit of data, call counts and faults), answer their endpoints and
    render their own error signals."""

    key: str
    routes: tuple[Route, ...] = ()

    def account(self, request: Request, endpoint: str) -> str:
        raise NotImplementedError

    def error(self, kind: str, request: Request, *, endpoint: str, retry_after: int | None = None) -> Response:
        """The platform's real signal for `kind`: "401", "403", "429", "429_date",
        "500", "503" or "throttled". `retry_after` is the wait the signal should ask for
        (None: the platform's habit when it names none)."""
        raise NotImplementedError

    def bad_request(self, error: BadRequest, request: Request) -> Response:
        raise NotImplementedError

    def default_headers(self) -> list[tuple[str, str]]:
        """Headers on every answer (request ids and the like)."""
        return []


# --- faults -----------------------------------------------------------------------------------

FAULTS = (
    "latency",
    "401",
    "403",
    "429",
    "429_date",
    "500",
    "503",
    "timeout",
    "reset",
    "malformed",
    "truncated",
    "html",
    "oversized",
    "throttled",
)
# What a route serves: the revenue API ("data"), a token endpoint, and the rest of the
# authorization server (the browser's authorize redirect, the identity and revocation calls).
ENDPOINTS = ("data", "token", "authorize", "identity", "revoke")
# Faults rendered by the platform module; the others are transport-level and shared.
PLATFORM_FAULTS = frozenset({"401", "403", "429", "429_date", "500", "503", "throttled"})
ANY_ACCOUNT = "*"


@dataclasses.dataclass
class Fault:
    platform: str
    account: str
    fault: str
    latency_ms: int | None = None  # "latency" (default 200), "timeout" (default: the state's timeout_ms)
    retry_after: int | None = None  # seconds the throttle signal asks for (default per fault)
    times: int | None = None  # None: until cleared
    status: int | None = None  # "html": the status of the HTML page (default 200)
    size_bytes: int | None = None  # "oversized": body size (default 11 MiB)
    declare_length: bool = True  # "oversized": send Content-Length (False: read-until-close body)
    endpoint: str | None = None  # one of ENDPOINTS, or None for all

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


def make_fault(platform: str, account: str, fault: str, platforms: Iterable[str], **params: Any) -> Fault:
    """Validate and build a fault; ValueError names what is wrong."""
    if platform not in set(platforms):
        raise ValueError(f"unknown platform {platform!r}")
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; one of {', '.join(FAULTS)}")
    if not isinstance(account, str) or not account:
        raise ValueError("account must be a non-empty string ('*' for every account)")
    known = {f.name for f in dataclasses.fields(Fault)} - {"platform", "account", "fault"}
    unknown = set(params) - known
    if unknown:
        raise ValueError(f"unknown fault parameter(s): {', '.join(sorted(unknown))}")
    for name in ("latency_ms", "retry_after", "times", "status", "size_bytes"):
        value = params.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ValueError(f"{name} must be a non-negative integer")
    if params.get("status") is not None and not 200 <= params["status"] <= 599:
        raise ValueError("status must be an HTTP status between 200 and 599")
    if params.get("times") == 0:
        raise ValueError("times must be at least 1 (omit it for a fault that stays until cleared)")
    if params.get("endpoint") is not None and params["endpoint"] not in ENDPOINTS:
        raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}, or omitted")
    if not isinstance(params.get("declare_length", True), bool):
        raise ValueError("declare_length must be a boolean")
    return Fault(platform=platform, account=account, fault=fault, **params)


# --- state -------------------------------------------------------------------------------------


@dataclasses.dataclass
class AuthorizationCode:
    """An authorization code the simulated consent issued: single use, bound to the client,
    the redirect URI and the PKCE challenge, expiring."""

    platform: str
    client_id: str
    redirect_uri: str
    scope: str
    accounts: tuple[str, ...]
    expires_at: datetime
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    offline: bool = True  # Google: access_type=offline asks for a refresh token
    used: bool = False


@dataclasses.dataclass(frozen=True)
class Grant:
    """What an exchanged code became: the tokens minted from it name its id, so identity
    endpoints know its accounts and revoking it kills every token it minted."""

    id: str
    platform: str
    client_id: str
    accounts: tuple[str, ...]
    scope: str
    refresh_token: str | None = None


@dataclasses.dataclass(frozen=True)
class Consent:
    """What the simulated user answers on the consent screen: approve for these accounts
    (None: the platform's default for the client), or deny."""

    accounts: tuple[str, ...] | None = None
    deny: bool = False


@dataclasses.dataclass
class Settings:
    timeout_ms: int = 30_000  # how long the "timeout" fault stalls unless it says otherwise
    page_cap: int | None = None  # cap every page at this many items (None: each platform's own paging)
    token_ttl: int | None = None  # lifetime of issued access tokens (None: each platform's own)


class SandboxState:
    """Call counts, fault switches, revoked credentials, issued tokens and the clock."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime] | None = None) -> None:
        self._lock = threading.Lock()
        self._initial = dataclasses.replace(settings)
        self.settings = settings
        self._clock = clock
        self._now: datetime | None = None
        self._counts: dict[str, dict[str, int]] = {}
        self._faults: dict[tuple[str, str], Fault] = {}
        self._revoked: dict[str, set[str]] = {}
        # Refresh-token digest -> access tokens issued from it, so revoking the refresh
        # token also kills what it minted (as Google does).
        self._issued: dict[tuple[str, str], set[str]] = {}
        self._endpoint_counts: dict[str, dict[str, int]] = {}
        # The authorization servers: registered apps outlive reset() (they are the
        # platform's configuration, not a test's state); codes, grants and consent do not.
        self._apps: dict[tuple[str, str], str] = {}
        self._codes: dict[tuple[str, str], AuthorizationCode] = {}
        self._grants: dict[str, Grant] = {}
        self._consent: dict[str, Consent] = {}

    # clock
    def now(self) -> datetime:
        with self._lock:
            fixed = self._now
        if fixed is not None:
            return fixed
        return self._clock() if self._clock else datetime.now(UTC)

    def set_now(self, moment: datetime | None) -> None:
        if moment is not None and moment.tzinfo is None:
            raise ValueError("the clock needs an aware datetime")
        with self._lock:
            self._now = moment.astimezone(UTC) if moment else None

    # calls
    def count(self, platform: str, account: str, endpoint: str = "data") -> None:
        with self._lock:
            per_platform = self._counts.setdefault(platform, {})
            per_platform[account] = per_platform.get(account, 0) + 1
            per_endpoint = self._endpoint_counts.setdefault(platform, {})
            per_endpoint[endpoint] = per_endpoint.get(endpoint, 0) + 1

    def calls(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {platform: dict(accounts) for platform, accounts in self._counts.items()}

    def endpoint_calls(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {platform: dict(endpoints) for platform, endpoints in self._endpoint_counts.items()}

    # faults
    def set_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults[(fault.platform, fault.account)] = fault

    def faults(self) -> list[Fault]:
        with self._lock:
            return [dataclasses.replace(f) for f in self._faults.values()]

    def clear_faults(self, platform: str | None = None, account: str | None = None) -> int:
        with self._lock:
            doomed = [
                key
                for key in self._faults
                if (platform is None or key[0] == platform) and (account is None or key[1] == account)
            ]
            for key in doomed:
                del self._faults[key]
            return len(doomed)

    def take_fault(self, platform: str, account: str, endpoint: str) -> Fault | None:
        """The fault that applies to this request (an account's own before the platform-wide
        one), spending one of its `times`."""
        with self._lock:
            for key in ((platform, account), (platform, ANY_ACCOUNT)):
                fault = self._faults.get(key)
                if fault is None or fault.endpoint not in (None, endpoint):
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        del self._faults[key]
                return dataclasses.replace(fault)
            return None

    # credentials
    def revoke(self, platform: str, credential: str) -> None:
        with self._lock:
            revoked = self._revoked.setdefault(platform, set())
            revoked.add(credential)
            revoked.update(self._issued.pop((platform, _digest(credential)), set()))

    def unrevoke_all(self) -> None:
        with self._lock:
            self._revoked.clear()

    def is_revoked(self, platform: str, *credentials: str | None) -> bool:
        with self._lock:
            revoked = self._revoked.get(platform, set())
            return any(c is not None and c in revoked for c in credentials)

    def remember_issued(self, platform: str, parent: str, access_token: str) -> None:
        with self._lock:
            self._issued.setdefault((platform, _digest(parent)), set()).add(access_token)

    def issued_from(self, platform: str, parent: str) -> bool:
        """Whether `parent` (a refresh token, a grant) minted tokens that are not revoked yet."""
        with self._lock:
            return bool(self._issued.get((platform, _digest(parent))))

    # authorization servers
    def register_app(self, platform: str, client_id: str, client_secret: str) -> None:
        if not client_id or not client_secret:
            raise ValueError("an app needs a client id and a client secret")
        with self._lock:
            self._apps[(platform, client_id)] = client_secret

    def app_secret(self, platform: str, client_id: str | None) -> str | None:
        with self._lock:
            return self._apps.get((platform, client_id or ""))

    def app_by_secret(self, platform: str, client_secret: str | None) -> str | None:
        """The client id whose secret this is (Stripe authenticates with the secret key alone)."""
        with self._lock:
            return next(
                (cid for (p, cid), secret in self._apps.items() if p == platform and secret == client_secret), None
            )

    def set_consent(self, platform: str, consent: Consent) -> None:
        with self._lock:
            self._consent[platform] = consent

    def consent(self, platform: str) -> Consent:
        with self._lock:
            return self._consent.get(platform, Consent())

    def issue_code(self, code: str, record: AuthorizationCode) -> None:
        with self._lock:
            self._codes[(record.platform, code)] = record

    def redeem_code(self, platform: str, code: str | None) -> AuthorizationCode | None:
        """The code's record, marked used from now on; a second redemption sees `used`."""
        with self._lock:
            record = self._codes.get((platform, code or ""))
            if record is None:
                return None
            snapshot = dataclasses.replace(record)
            record.used = True
            return snapshot

    def add_grant(self, grant: Grant) -> None:
        with self._lock:
            self._grants[grant.id] = grant

    def grant(self, grant_id: str | None) -> Grant | None:
        with self._lock:
            return self._grants.get(grant_id or "")

    def grant_by_refresh_token(self, platform: str, refresh_token: str | None) -> Grant | None:
        if not refresh_token:
            return None
        with self._lock:
            matches = (g for g in self._grants.values() if g.platform == platform and g.refresh_token == refresh_token)
            return next(matches, None)

    # everything
    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._endpoint_counts.clear()
            self._faults.clear()
            self._revoked.clear()
            self._issued.clear()
            self._codes.clear()
            self._grants.clear()
            self._consent.clear()
            self._now = None
            self.settings = dataclasses.replace(self._initial)

    def page_size(self, requested: int) -> int:
        cap = self.settings.page_cap
        return min(requested, cap) if cap else requested


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def retry_after_header(kind: str, seconds: int | None, *, default: int) -> str:
    """Retry-After as delta-seconds, or as an HTTP-date for the "429_date" fault. The date
    is real time (not the simulated clock): the client compares it with its own clock."""
    seconds = default if seconds is None else seconds
    if kind == "429_date":
        return format_datetime(datetime.fromtimestamp(time.time() + seconds, UTC), usegmt=True)
    return str(seconds)


def request_id(prefix: str = "", length: int = 14) -> str:
    return prefix + secrets.token_hex(length // 2 + 1)[:length]


# --- tokens minted by the simulator ------------------------------------------------------------
# A minted access token carries who it was issued to and when it expires, so the simulator
# can name the account and refuse an expired token without remembering anything (and
# still after a restart). It is an opaque random string to the adapter, as on the platform.


def mint_token(prefix: str, identity: str, expires_at: datetime) -> str:
    who = base64.urlsafe_b64encode(identity.encode()).decode().rstrip("=")
    return f"{prefix}{who}.{int(expires_at.timestamp())}.{secrets.token_urlsafe(18)}"


def read_token(token: str, prefix: str) -> tuple[str, datetime] | None:
    """(identity, expiry) of a token minted here, or None for any other token."""
    if not token.startswith(prefix):
        return None
    parts = token[len(prefix) :].split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    try:
        identity = base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return identity, datetime.fromtimestamp(int(parts[1]), UTC)
