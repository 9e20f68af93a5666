"""`manage.py list_tenants`: every tenant, one line each, for operators at a shell."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from revenue.tenant_status import tenant_summaries

COLUMNS = ("id", "state", "connections", "reconnect_required", "currency", "timezone", "name")


class Command(BaseCommand):
    help = (
        "List every tenant: id, cache state (fresh, expired, cooling_down, none), connections, "
        "how many need reconnecting, currency, time zone and name."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object per line instead of columns")

    def handle(self, *args: Any, **opts: Any) -> None:
        if not opts["json"]:
            self.stdout.write("\t".join(COLUMNS))
        for summary in tenant_summaries():
            if opts["json"]:
                self.stdout.write(json.dumps(summary, sort_keys=True))
            else:
                self.stdout.write("\t".join(str(summary[column]) for column in COLUMNS))
