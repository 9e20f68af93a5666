"""`manage.py demo_connect_oauth`: the demo's OAuth connection, made the way a merchant's
browser makes one, over real HTTP against the running API and the local platform
simulator: POST …/oauth/<platform>/start with a manager token → GET the authorize URL
(the simulator "approves" at once and redirects) → GET the callback on the API, which
exchanges the code at the simulated token endpoint and holds the grant → POST
…/oauth/<platform>/confirm with the code the callback gave and the same user's token, which
stores the connection (the install completes only for the user who started it). Prints the
connection id(s) last; exits 1 with one sentence when a step fails."""

from __future__ import annotations

import uuid
from typing import Any

import requests
from django.core.management.base import BaseCommand, CommandError, CommandParser

from skeldir.cli import bad_input
from skeldir.tokens import SigningKeyUnavailable, TokenRequestInvalid, token_issue

TIMEOUT = 10


class Command(BaseCommand):
    help = "Connect a platform to a tenant through the OAuth flow of the running API (demo; the simulator consents)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant UUID")
        parser.add_argument("--platform", default="stripe", help="stripe, shopify, google_ads or meta_ads")
        parser.add_argument("--api", default="http://127.0.0.1:8000", help="the running API's base URL")
        parser.add_argument("--shop", default="demo-oauth.myshopify.com", help="Shopify only: the shop")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            token = token_issue(tenant_id=opts["tenant"], scopes=["manager"], ttl_seconds=300, subject="demo-merchant")
        except TokenRequestInvalid as exc:
            raise bad_input(exc) from None
        except SigningKeyUnavailable as exc:
            raise CommandError(str(exc)) from None
        api, platform = opts["api"].rstrip("/"), opts["platform"]
        body = {"shop": opts["shop"]} if platform == "shopify" else {}
        started = self._call(
            "start",
            lambda: requests.post(
                f"{api}/api/v1/connections/oauth/{platform}/start",
                json=body,
                headers={"Authorization": f"Bearer {token}", "X-Correlation-ID": str(uuid.uuid4())},
                timeout=TIMEOUT,
            ),
            201,
        )
        consent = self._call(
            "authorize",
            lambda: requests.get(started.json()["authorize_url"], allow_redirects=False, timeout=TIMEOUT),
            302,
        )
        pending = self._call(
            "callback",
            lambda: requests.get(consent.headers["Location"], allow_redirects=False, timeout=TIMEOUT),
            200,
        )
        done = self._call(
            "confirm",
            lambda: requests.post(
                f"{api}/api/v1/connections/oauth/{platform}/confirm",
                json={"confirmation": pending.json()["confirmation"]},
                headers={"Authorization": f"Bearer {token}", "X-Correlation-ID": str(uuid.uuid4())},
                timeout=TIMEOUT,
            ),
            200,
        )
        connections = done.json()["connections"]
        accounts = ", ".join(c["account_id"] for c in connections)
        self.stdout.write(
            f"Connected {platform} ({accounts}) through OAuth: start → simulated consent → callback → confirm."
        )
        for connection in connections:
            self.stdout.write(connection["id"])

    def _call(self, step: str, send: Any, expected: int) -> requests.Response:
        try:
            response = send()
        except requests.RequestException as exc:
            raise CommandError(f"The OAuth {step} step could not reach its server ({type(exc).__name__}).") from None
        if response.status_code != expected:
            detail = ""
            if response.headers.get("Content-Type", "").startswith("application/problem+json"):
                detail = f": {response.json().get('detail')}"
            raise CommandError(f"The OAuth {step} step answered HTTP {response.status_code}{detail}")
        return response
