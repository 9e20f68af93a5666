"""`manage.py tenant_status --tenant UUID`: one tenant's cache entry, sources, cooldown and
credential lifecycles, as JSON (never a token)."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from revenue.tenant_status import tenant_status
from skeldir.cli import bad_input
from skeldir.tenancy import InvalidTenant, parse_tenant_id


class Command(BaseCommand):
    help = "Print one tenant's state as JSON: cache entry and cooldown, each source's status and as-of, connections."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant id (UUID)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            status = tenant_status(parse_tenant_id(opts["tenant"]))
        except InvalidTenant as exc:
            raise bad_input(exc) from None
        self.stdout.write(json.dumps(status, indent=2, sort_keys=True))
