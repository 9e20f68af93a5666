from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from connections.crypto import CredentialKeyError, key_ring
from connections.services import credential_rotate_key


class Command(BaseCommand):
    help = "Re-encrypt every platform credential under the current key of CREDENTIAL_ENCRYPTION_KEYS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=None, help="rows per transaction")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["batch_size"] is not None and opts["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.", returncode=2)
        try:
            report = credential_rotate_key(batch_size=opts["batch_size"])
        except CredentialKeyError as exc:
            raise CommandError(f"{exc}.") from None
        self.stdout.write(
            f"Re-encrypted {report.moved} credentials of {report.tenants} tenants to key id {key_ring().current_id!r}."
        )
        if report.unknown_rows:
            ids = ", ".join(sorted(repr(k) for k in report.unknown_key_ids))
            raise CommandError(
                f"{report.unknown_rows} credentials are encrypted with key ids missing from "
                f"CREDENTIAL_ENCRYPTION_KEYS ({ids}); add those keys and run again."
            )
