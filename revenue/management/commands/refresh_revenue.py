import contextlib
import signal
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import OperationalError, connection

from revenue.batch import (
    RefreshProcessFailed,
    RefreshSummary,
    parse_shard,
    refresh_processes,
    revenue_refresh_due_in_processes,
)
from skeldir.cli import bad_input, first_line

# Exit codes: 0 the cycle ran (platform failures are recorded, not fatal); 1 it could not
# run (database unreachable) or one of its processes died; 2 bad arguments; 78
# configuration missing (manage.py).


class Command(BaseCommand):
    help = "Refresh the cached revenue snapshot of every due tenant (or of --tenant ids)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--tenant", action="append", default=[], metavar="UUID", help="only this tenant (repeatable)"
        )
        parser.add_argument(
            "--concurrency", type=int, default=16, help="tenants refreshed at once by each process (default 16)"
        )
        parser.add_argument(
            "--processes",
            type=int,
            default=None,
            metavar="N",
            help="split the cycle over N processes (default REVENUE_REFRESH_PROCESSES: one per CPU)",
        )
        parser.add_argument(
            "--shard", metavar="K/N", help="refresh only shard K of N (split tenants between processes)"
        )
        parser.add_argument("--loop", type=float, metavar="SECONDS", help="run as a worker: a cycle every SECONDS")
        parser.add_argument(
            "--ahead",
            type=float,
            default=None,
            metavar="SECONDS",
            help="also refresh entries expiring within SECONDS (default REVENUE_REFRESH_AHEAD_SECONDS)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            tenants = [uuid.UUID(value) for value in opts["tenant"]] or None
        except ValueError:
            raise bad_input(f"--tenant values must be UUIDs, got {opts['tenant']}") from None
        try:
            shard = parse_shard(opts["shard"]) if opts["shard"] else None
        except ValueError as exc:
            raise bad_input(exc) from None
        if opts["concurrency"] < 1:
            raise bad_input("--concurrency must be at least 1")
        if opts["processes"] is not None and opts["processes"] < 1:
            raise bad_input("--processes must be at least 1")
        processes = opts["processes"] or refresh_processes()
        if tenants:
            processes = min(processes, len(tenants))
        if opts["loop"] is not None and opts["loop"] <= 0:
            raise bad_input("--loop must be a positive number of seconds")
        ahead = settings.REVENUE_REFRESH_AHEAD_SECONDS if opts["ahead"] is None else opts["ahead"]
        try:
            connection.ensure_connection()
        except OperationalError as exc:
            raise CommandError(f"Cannot reach the database (DATABASE_URL): {first_line(exc)}", returncode=1) from None

        cycle = {"tenant_ids": tenants, "shard": shard, "concurrency": opts["concurrency"], "ahead_seconds": ahead}
        stop = threading.Event()
        with _stop_on_signals(stop):
            self._run(processes=processes, loop=opts["loop"], stop=stop, cycle=cycle)

    def _run(self, *, processes: int, loop: float | None, stop: threading.Event, cycle: dict[str, Any]) -> None:
        progress = self._progress() if sys.stderr.isatty() else None
        while True:
            try:
                summary = revenue_refresh_due_in_processes(processes=processes, stop=stop, progress=progress, **cycle)
            except RefreshProcessFailed as exc:
                self.stdout.write(exc.summary.as_json())
                raise CommandError(str(exc), returncode=1) from None
            if progress:
                self.stderr.write("")
            self.stdout.write(summary.as_json())
            if summary.errors and summary.errors == summary.due and not summary.refreshed + summary.partial:
                raise CommandError(f"Every due tenant failed with an internal error ({summary.errors}); see the log.")
            if not loop or stop.wait(loop):
                return

    def _progress(self):  # type: ignore[no-untyped-def]
        def show(summary: RefreshSummary) -> None:
            done = summary.due + summary.skipped_locked + summary.not_due
            self.stderr.write(
                f"\rrefreshing: {done}/{summary.seen} tenants · refreshed {summary.refreshed} · "
                f"partial {summary.partial} · failed {summary.failed} · skipped {summary.skipped_locked}",
                ending="",
            )
            self.stderr.flush()

        return show


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM or SIGINT sets `stop`: every process finishes its tenants in flight, and the
    summary is still printed. The previous handlers come back afterwards (a command run
    in-process, or off the main thread, leaves its caller's handlers alone)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
