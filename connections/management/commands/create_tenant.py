from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from skeldir.cli import bad_input
from skeldir.tenancy import InvalidTenant, tenant_create


class Command(BaseCommand):
    help = "Create a tenant and print its id (the last line of stdout)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--currency", default="USD", help="ISO 4217 reporting currency (default USD)")
        parser.add_argument("--timezone", default="UTC", help="IANA time zone of the tenant's day (default UTC)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            tenant = tenant_create(name=opts["name"], reporting_currency=opts["currency"], timezone=opts["timezone"])
        except InvalidTenant as exc:
            raise bad_input(exc) from None
        self.stdout.write(str(tenant.id))
