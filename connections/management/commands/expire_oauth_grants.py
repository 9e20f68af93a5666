"""`manage.py expire_oauth_grants`: the cron's sweep of OAuth grants nobody confirmed."""

from typing import Any

from django.core.management.base import BaseCommand

from connections.oauth.services import oauth_pending_expire


class Command(BaseCommand):
    help = (
        "Withdraw at the platform every OAuth grant still pending confirmation after OAUTH_STATE_TTL_SECONDS "
        "(run from cron, e.g. every minute)."
    )

    def handle(self, *args: Any, **opts: Any) -> None:
        withdrawn = oauth_pending_expire()
        self.stdout.write(f"Withdrew {withdrawn} expired pending OAuth grants.")
