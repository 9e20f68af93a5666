"""`manage.py provider_sandbox`: run the local platform simulator in the foreground."""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from providers.sandbox import Sandbox

BASE_URL_SETTINGS = (
    "STRIPE_API_BASE_URL",
    "SHOPIFY_API_BASE_URL",
    "PAYPAL_API_BASE_URL",
    "WOOCOMMERCE_API_BASE_URL",
    "GOOGLE_ADS_API_BASE_URL",
    "META_API_BASE_URL",
)


OAUTH_URL_SETTINGS = (
    ("STRIPE_OAUTH_AUTHORIZE_URL", "/oauth/authorize"),
    ("STRIPE_OAUTH_TOKEN_URL", "/oauth/token"),
    ("STRIPE_OAUTH_DEAUTHORIZE_URL", "/oauth/deauthorize"),
    ("SHOPIFY_OAUTH_BASE_URL", ""),
    ("GOOGLE_OAUTH_AUTHORIZE_URL", "/o/oauth2/v2/auth"),
    ("GOOGLE_OAUTH_REVOKE_URL", "/revoke"),
    ("META_OAUTH_AUTHORIZE_URL", "/v27.0/dialog/oauth"),
    ("META_OAUTH_BASE_URL", ""),
)


class Command(BaseCommand):
    help = "Run the local platform simulator (not a platform) that the demo and end-to-end tests point adapters at."
    # The simulator needs neither the database nor importable adapters.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--timeout-ms", type=int, default=30_000, help="stall of the 'timeout' fault")
        parser.add_argument("--page-cap", type=int, default=None, help="cap every page at this many items")
        parser.add_argument("--token-ttl", type=int, default=None, help="lifetime of minted access tokens (s)")

    def handle(self, *args: Any, **opts: Any) -> None:
        sandbox = Sandbox(
            opts["host"],
            opts["port"],
            timeout_ms=opts["timeout_ms"],
            page_cap=opts["page_cap"],
            token_ttl=opts["token_ttl"],
        ).start()
        url = sandbox.url
        # The OAuth apps configured in settings are "registered" with the simulated
        # authorization servers, as a developer registers an app in a platform's dashboard.
        for platform, conf in getattr(settings, "CONNECTIONS_OAUTH", {}).items():
            options = conf.get("OPTIONS", {})
            if platform in sandbox.dispatcher.platforms and options.get("client_id") and options.get("client_secret"):
                sandbox.register_app(platform, options["client_id"], options["client_secret"])
                self.stdout.write(f"Registered the {platform} OAuth app {options['client_id']}")
        self.stdout.write(f"Provider simulator (local, not a platform) listening on {url}")
        self.stdout.write("Point the adapters at it with:")
        for name in BASE_URL_SETTINGS:
            self.stdout.write(f"  {name}={url}")
        self.stdout.write(f"  GOOGLE_OAUTH_TOKEN_URL={url}/token")
        self.stdout.write("and the OAuth flows (connections/oauth) with:")
        for name, path in OAUTH_URL_SETTINGS:
            self.stdout.write(f"  {name}={url}{path}")
        self.stdout.write(f"Control API: {url}/_sandbox  (Ctrl-C to stop)")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            sandbox.stop()
