"""A local simulator of the six platforms' APIs, for the demo and the end-to-end tests.

It is not a platform and stands in for none in production: it answers the endpoints the
adapters in `providers/` call (Stripe charges, Shopify GraphQL orders, PayPal
transaction search and tokens, WooCommerce orders, Google Ads search and OAuth tokens,
Meta ad insights) with payloads shaped like the platforms' documented ones, so that the
real adapters can be pointed at it through the *_API_BASE_URL settings. It also plays the
authorization servers of Stripe Connect, Shopify, Google and Meta (authorize redirect with
a code, token endpoint with PKCE, identity, revocation; see `oauth`) for the install flows
of connections/oauth.

- Data is deterministic per (platform, account) and UTC day and appears as the day goes
  on, including items the adapters must not count (see `data` for the account-name
  conventions: `-jpy`, `-multi`, `-busy`, `-empty`, ...).
- Fault switches per (platform, account) make it answer with a platform's real error
  signals or misbehave at the transport level (see `core.FAULTS`).
- A control API under /_sandbox/ (see `control`) and the `Sandbox` class drive it.

Run it with `python manage.py provider_sandbox --port 8100`, or in tests:

    with Sandbox() as sandbox:
        sandbox.set_fault("stripe", "acct_1", "429", retry_after=3, times=1)
        ...
        assert sandbox.calls("stripe", "acct_1") == 2
        sandbox.register_app("google_ads", "client-id", "client-secret")  # an OAuth app
        sandbox.set_consent("google_ads", ["1234567890"])  # what the next consent grants
        ...
        sandbox.endpoint_calls("google_ads")  # {"authorize": 1, "token": 1, "identity": 1, ...}
"""

from providers.sandbox.server import Sandbox

__all__ = ["Sandbox"]
