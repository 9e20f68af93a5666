"""OAuth install flows: a merchant connects Stripe, Shopify, Google Ads or Meta Ads by
approving our app on the platform, not by pasting a token.

    POST /api/v1/connections/oauth/<platform>/start     (manager) → {authorize_url}
    GET  <authorize_url>                                 the merchant approves on the platform
    GET  /api/v1/connections/oauth/<platform>/callback   the platform sends the browser back:
                                                         the grant is held, the browser gets
                                                         a one-time confirmation code
    POST /api/v1/connections/oauth/<platform>/confirm    (the same user) {confirmation} → connected

One module per platform (`stripe`, `shopify`, `google_ads`, `meta_ads`), each an
`OAuthFlow` configured from `settings.CONNECTIONS_OAUTH` like the revenue adapters:
app credentials and the platform's authorize / token / revoke endpoints, all overridable
by environment (README). `state` (one-time, bound to tenant, user and redirect URI,
expiring), the confirmation code and PKCE live in `state`; the flow, and why it ends in a
confirmation, in `services`. The account identity comes from the revenue adapter's
`verify_credentials` where the token response does not carry it.
"""
