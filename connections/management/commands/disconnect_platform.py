"""`manage.py disconnect_platform --tenant UUID --connection UUID`: an operator disconnects
an account the way the API's DELETE does (revocation at the platform where it is offered and
no other connection relies on the grant); prints what the platform was told, last."""

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from connections.connect import ConnectionNotFound, connection_disconnect
from skeldir.cli import bad_input
from skeldir.tenancy import InvalidTenant, tenant_get


class Command(BaseCommand):
    help = (
        "Disconnect a platform account of a tenant (revoking at the platform as the API does); "
        "prints the revocation outcome last: revoked, not_offered, kept_for_other_accounts, failed, "
        "already_disconnected."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant id (UUID)")
        parser.add_argument(
            "--connection", required=True, help="connection id (UUID), as list_tenants/tenant_status show"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            tenant = tenant_get(opts["tenant"])
            connection_id = uuid.UUID(opts["connection"])
        except InvalidTenant as exc:
            raise bad_input(exc) from None
        except ValueError:
            raise bad_input(f"{opts['connection']!r} is not a connection id (a UUID)") from None
        try:
            result = connection_disconnect(
                tenant_id=tenant.id, connection_id=connection_id, correlation_id=str(uuid.uuid4())
            )
        except ConnectionNotFound:
            raise bad_input(f"the tenant has no connection {connection_id}") from None
        self.stdout.write(f"{result.connection.platform} {result.connection.platform_account_id}: {result.revocation}")
