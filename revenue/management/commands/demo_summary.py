"""`manage.py demo_summary --tenant UUID`: what `make run` prints after its refresh — the
tenant's cached snapshot, each source with its figure and what the figure means."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from revenue.presenters import snapshot_summary_lines
from revenue.selectors import cache_entry_get
from revenue.snapshot import Snapshot
from skeldir.cli import bad_input
from skeldir.tenancy import InvalidTenant, parse_tenant_id


class Command(BaseCommand):
    help = "Print a tenant's cached revenue snapshot: totals, and each source's figure with its meaning."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant id (UUID)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            tenant_id = parse_tenant_id(opts["tenant"])
        except InvalidTenant as exc:
            raise bad_input(exc) from None
        entry = cache_entry_get(tenant_id)
        if entry is None or entry.payload is None:
            raise CommandError("The tenant has no snapshot yet: run refresh_revenue first.")
        for line in snapshot_summary_lines(Snapshot.from_payload(entry.payload)):
            self.stdout.write(line)
