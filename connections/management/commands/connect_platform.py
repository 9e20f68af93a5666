import json
import os
import sys
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from connections.services import (
    UnknownPlatform,
    connection_upsert,
    credential_upsert,
    platform_validate,
)
from skeldir.cli import bad_input
from skeldir.parsers import json_depth
from skeldir.tenancy import InvalidTenant, tenant_context, tenant_get

# A token is a few hundred characters; metadata a handful of keys.
MAX_STDIN_CHARS = 16 * 1024
MAX_METADATA_CHARS = 16 * 1024


class Command(BaseCommand):
    help = (
        "Connect a platform account to a tenant (or update it) with its credentials, encrypted; "
        "prints the connection id (the last line of stdout). Tokens may come from an environment "
        "variable (--access-token-env) or stdin (--access-token -) to keep them out of shell history."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant UUID")
        parser.add_argument("--platform", required=True, help="a key of REVENUE_PROVIDERS, e.g. stripe")
        parser.add_argument("--account", required=True, help="the platform's account id (acct_..., shop domain...)")
        token = parser.add_mutually_exclusive_group(required=True)
        token.add_argument("--access-token", help="the token, or - to read it from stdin")
        token.add_argument("--access-token-env", metavar="NAME", help="read the token from this environment variable")
        refresh = parser.add_mutually_exclusive_group()
        refresh.add_argument("--refresh-token", help="the refresh token, or - to read it from stdin")
        refresh.add_argument("--refresh-token-env", metavar="NAME")
        parser.add_argument("--expires-at", help="ISO 8601 expiry of the access token, with an offset")
        parser.add_argument("--metadata", help="JSON object of non-secret connection metadata")

    def handle(self, *args: Any, **opts: Any) -> None:
        # Everything that needs no database is checked first.
        metadata = _parse_metadata(opts["metadata"])
        expires_at = _parse_expiry(opts["expires_at"])
        access_token = _secret(opts["access_token"], opts["access_token_env"], "access token")
        refresh_token = _secret(opts["refresh_token"], opts["refresh_token_env"], "refresh token")
        try:
            tenant = tenant_get(opts["tenant"])
            platform = platform_validate(opts["platform"])
        except (InvalidTenant, UnknownPlatform) as exc:
            raise bad_input(exc) from None
        try:
            with tenant_context(tenant.id):
                connection_row = connection_upsert(
                    tenant_id=tenant.id, platform=platform, platform_account_id=opts["account"], metadata=metadata
                )
                credential_upsert(
                    connection_row=connection_row,
                    access_token=access_token,
                    refresh_token=refresh_token,
                    expires_at=expires_at,
                )
        except ValueError as exc:  # credential_upsert's CredentialInvalid among them: all rolled back
            raise bad_input(exc) from None
        self.stdout.write(str(connection_row.id))


def _parse_metadata(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    if len(raw) > MAX_METADATA_CHARS:
        raise bad_input(f"--metadata is longer than {MAX_METADATA_CHARS} characters.")
    if json_depth(raw) > settings.API_MAX_JSON_DEPTH:
        raise bad_input(f"--metadata is nested deeper than {settings.API_MAX_JSON_DEPTH} levels.")
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except ValueError:
        raise bad_input("--metadata is not valid JSON (NaN and Infinity are not JSON numbers).") from None
    if not isinstance(value, dict):
        raise bad_input("--metadata must be a JSON object.")
    if _holds_nul(value):  # PostgreSQL's jsonb cannot hold NUL: refuse it here, not as a traceback
        raise bad_input("--metadata contains a NUL character.")
    return value


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def _parse_expiry(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise bad_input(f"--expires-at {raw!r} is not an ISO 8601 date-time.") from None
    if value.tzinfo is None:
        raise bad_input("--expires-at needs a UTC offset (e.g. 2026-12-01T00:00:00+00:00).")
    return value


def _secret(value: str | None, env_name: str | None, what: str) -> str | None:
    if env_name is not None:
        value = os.environ.get(env_name)
        if not value:
            raise bad_input(f"The environment variable {env_name} holding the {what} is empty or unset.")
        return value
    if value == "-":
        lines = sys.stdin.read(MAX_STDIN_CHARS + 1).splitlines()
        if len(lines) > 1:
            raise bad_input(f"Stdin holds {len(lines)} lines; the {what} must be the only one.")
        value = lines[0].strip() if lines else ""
        if not value:
            raise bad_input(f"No {what} was given on stdin.")
    if value is not None and not value.strip():
        raise bad_input(f"The {what} is empty.")
    return value
