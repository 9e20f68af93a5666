"""`manage.py seed_demo`: the demo tenant of `make run`, connected to all six platforms
(through the real adapters, to the local platform simulator). Idempotent: the tenant's id
follows from its name, so a second run finds it (row-level security lets the runtime role
see a tenant only by its id) and refreshes its connections."""

import uuid
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from connections.services import connection_upsert, credential_upsert
from skeldir.tenancy import InvalidTenant, tenant_context, tenant_create, tenant_get

DEMO_NAMESPACE = uuid.UUID("5f1c2b0e-7d43-4a8e-9c1b-2f6d8e4a3b70")  # names -> demo tenant ids (uuid5)
EXPIRED = datetime(2000, 1, 1, tzinfo=UTC)  # refreshed through the simulator on first use

# platform, account, access token, refresh token (or stored client credentials), expiry, metadata
DEMO_CONNECTIONS = [
    ("stripe", "acct_demo", "sk_test_demo", None, None, {"connect": True}),
    ("shopify", "demo-shop.myshopify.com", "shpat_demo", None, None, None),
    ("paypal", "DEMO-MERCHANT", "until-refreshed", "demo-client:demo-secret", EXPIRED, None),
    ("woocommerce", "https://demo-store.example.com", "ck_demo:cs_demo", None, None, None),
    ("google_ads", "123-456-7840", "until-refreshed", "1//demo-refresh-token", EXPIRED, None),
    ("meta_ads", "act_2468100840", "EAAB-demo", None, None, None),
]


class Command(BaseCommand):
    help = "Create (or refresh) the demo tenant and its six simulator connections; prints the tenant id last."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", default="Demo Shop")

    def handle(self, *args: Any, **opts: Any) -> None:
        tenant_id = uuid.uuid5(DEMO_NAMESPACE, opts["name"])
        try:
            tenant = tenant_get(tenant_id)
        except InvalidTenant:
            tenant = tenant_create(name=opts["name"], reporting_currency="USD", timezone="UTC", tenant_id=tenant_id)
        with tenant_context(tenant.id):
            for platform, account, access, refresh, expires, metadata in DEMO_CONNECTIONS:
                row = connection_upsert(
                    tenant_id=tenant.id, platform=platform, platform_account_id=account, metadata=metadata
                )
                credential_upsert(connection_row=row, access_token=access, refresh_token=refresh, expires_at=expires)
        self.stdout.write(str(tenant.id))
