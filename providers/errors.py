"""The one error hierarchy every adapter raises.

An adapter maps its platform's signals (status codes, error codes in bodies, transport
failures) into exactly these five kinds; nothing else escapes `fetch_revenue` or
`refresh_token`. Messages are written by us and never carry a token, a key or a raw
request; `redact` strips any secret that might be echoed inside a platform's text.
"""

from __future__ import annotations

from collections.abc import Iterable


class ProviderError(Exception):
    """Base class. `kind` is the stable, machine-readable classification."""

    kind: str = "upstream"

    def __init__(
        self,
        message: str,
        *,
        platform: str = "",
        retry_after: int | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.platform = platform
        self.retry_after = retry_after
        self.status = status

    def __str__(self) -> str:
        prefix = f"{self.platform}: " if self.platform else ""
        return f"{prefix}{self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, platform={self.platform!r}, message={self.message!r})"


class ProviderAuthError(ProviderError):
    """401/403, an expired, revoked or insufficient token. Never retried."""

    kind = "auth"


class ProviderTokenRevoked(ProviderAuthError):
    """The refresh grant itself was refused for good (`invalid_grant`, revoked app):
    only reconnecting the account can fix it."""


class ProviderRateLimited(ProviderError):
    """429 or a platform's own throttle signal; `retry_after` is in seconds."""

    kind = "rate_limited"


class ProviderUnavailable(ProviderError):
    """5xx after the bounded retries, or another refusal that is the platform's side."""

    kind = "upstream"


class ProviderNetworkError(ProviderError):
    """Connect/read failures and timeouts."""

    kind = "network"


class ProviderDestinationRefused(ProviderNetworkError):
    """A URL a tenant chose names a destination we never call (not https, a port not
    allowed, a host that resolves to nothing or to a non-public address: see
    providers.outbound). Nothing was sent. Kind `network`, like a host that cannot be
    reached, so the answer does not tell the two apart."""


class ProviderBadResponse(ProviderError):
    """Unparseable or schema-violating payloads: wrong content type, truncated or
    oversized bodies, missing required fields, malformed money."""

    kind = "bad_response"


ERROR_KINDS: tuple[str, ...] = ("auth", "rate_limited", "upstream", "network", "bad_response")

REDACTED = "[redacted]"


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Remove every non-trivial secret value from `text` (platform messages may echo them)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text
