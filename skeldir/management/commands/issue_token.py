from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from skeldir.cli import bad_input
from skeldir.tenancy import InvalidTenant, tenant_get
from skeldir.tokens import MAX_TTL_SECONDS, SigningKeyUnavailable, TokenRequestInvalid, token_issue


class Command(BaseCommand):
    help = "Print a signed RS256 bearer token for a tenant (the last line of stdout)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant id (UUID) of an existing tenant")
        grant = parser.add_mutually_exclusive_group()
        grant.add_argument(
            "--scopes",
            default="viewer",
            help="comma or space separated: viewer, manager, admin; grants exactly these (default viewer)",
        )
        grant.add_argument("--role", help="viewer, manager or admin; implies the lower ones (a manager can read too)")
        parser.add_argument("--ttl", default="3600", help=f"lifetime in seconds, 1 to {MAX_TTL_SECONDS} (default 3600)")
        parser.add_argument("--subject", default=None, help="the token's sub claim (who the token speaks for)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            ttl = int(opts["ttl"])
        except ValueError:
            raise bad_input(f"--ttl must be a whole number of seconds, not {opts['ttl']!r}") from None
        try:
            token = token_issue(
                tenant_id=opts["tenant"],
                scopes=opts["scopes"],
                ttl_seconds=ttl,
                subject=opts["subject"],
                role=opts["role"],
            )
        except TokenRequestInvalid as exc:
            raise bad_input(exc) from None
        except SigningKeyUnavailable as exc:
            raise CommandError(str(exc)) from None
        try:
            tenant_get(opts["tenant"])  # a token for no tenant would only ever be refused
        except InvalidTenant as exc:
            raise bad_input(exc) from None
        self.stdout.write(token)
