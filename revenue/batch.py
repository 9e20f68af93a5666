"""The cron's cycle: refresh every due tenant, a bounded number at a time.

Several copies may run at once, on several machines: each tenant is refreshed under its
advisory lock and re-read after taking it, so a tenant another process holds is skipped
and one it just refreshed is no longer due — each due tenant is refreshed once per cycle.
Tenant ids are streamed through a bounded queue, so memory does not grow with their number.

A refresher process is bound by its interpreter lock at about one core (parsing platforms'
answers, building snapshots), so one command splits its cycle over several forked
processes, each taking its own share of the tenants (`revenue_refresh_due_in_processes`).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connections

from revenue.realtime import RefreshResult, revenue_refresh
from skeldir.cli import first_line
from skeldir.correlation import correlation_id_var, tenant_id_var
from skeldir.cpus import usable_cpus
from skeldir.tenancy import tenant_ids_iter

logger = logging.getLogger(__name__)

_DONE = object()


@dataclasses.dataclass
class RefreshSummary:
    seen: int = 0
    refreshed: int = 0
    partial: int = 0
    failed: int = 0
    skipped_locked: int = 0
    not_due: int = 0
    errors: int = 0
    duration_seconds: float = 0.0

    @property
    def due(self) -> int:
        return self.refreshed + self.partial + self.failed + self.errors

    @classmethod
    def total(cls, parts: list[RefreshSummary]) -> RefreshSummary:
        """The counters of several processes' shares added up (duration left to the caller)."""
        fields = [field.name for field in dataclasses.fields(cls) if field.name != "duration_seconds"]
        return cls(**{name: sum(getattr(part, name) for part in parts) for name in fields})

    def as_dict(self) -> dict[str, Any]:
        return {
            "event": "refresh_cycle_finished",
            "tenants_seen": self.seen,
            "tenants_due": self.due,
            "refreshed": self.refreshed,
            "partial": self.partial,
            "failed": self.failed,
            "skipped_locked": self.skipped_locked,
            "not_due": self.not_due,
            "errors": self.errors,
            "duration_seconds": round(self.duration_seconds, 3),
        }

    def as_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=False)


_COUNTERS = {
    "refreshed": "refreshed",
    "partial": "partial",
    "failed": "failed",
    "locked": "skipped_locked",
    "not_due": "not_due",
    "missing_tenant": "not_due",
}


def revenue_refresh_due(
    *,
    tenant_ids: list[uuid.UUID] | None = None,
    shard: tuple[int, int] | None = None,
    concurrency: int = 16,
    ahead_seconds: float = 0,
    stop: threading.Event | None = None,
    progress: Callable[[RefreshSummary], None] | None = None,
) -> RefreshSummary:
    stop = stop or threading.Event()
    summary = RefreshSummary()
    lock = threading.Lock()
    work: queue.Queue[object] = queue.Queue(maxsize=concurrency * 2)
    started = time.monotonic()

    def worker() -> None:
        try:
            while (tenant_id := work.get()) is not _DONE:
                if stop.is_set():
                    continue  # handed out but not begun: left to the next cycle
                outcome = _refresh_one(tenant_id, ahead_seconds)  # type: ignore[arg-type]
                with lock:
                    setattr(summary, outcome, getattr(summary, outcome) + 1)
                    if progress:
                        progress(summary)
        finally:
            connections.close_all()  # this thread's connection; its locks are already released

    threads = [threading.Thread(target=worker, name=f"refresh-{n}", daemon=True) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    try:
        for tenant_id in tenant_ids_iter(shard=shard, only=tenant_ids):
            if stop.is_set():
                break
            with lock:
                summary.seen += 1
            work.put(tenant_id)
    finally:
        for _ in threads:
            work.put(_DONE)
        for thread in threads:
            thread.join()
        summary.duration_seconds = time.monotonic() - started
    return summary


class RefreshProcessFailed(RuntimeError):
    """A process of a split cycle died or could not run its share. The others finished
    theirs; `summary` adds up what every process reported (a dead one's tenants in flight
    lost their locks with its connections and are due again next cycle)."""

    def __init__(self, message: str, summary: RefreshSummary) -> None:
        super().__init__(message)
        self.summary = summary


def refresh_processes() -> int:
    """How many processes a cycle runs in: REVENUE_REFRESH_PROCESSES, or with 0, one per
    CPU this process may use."""
    return settings.REVENUE_REFRESH_PROCESSES or usable_cpus()


def revenue_refresh_due_in_processes(
    *,
    processes: int,
    shard: tuple[int, int] | None = None,
    stop: threading.Event | None = None,
    progress: Callable[[RefreshSummary], None] | None = None,
    **cycle: Any,
) -> RefreshSummary:
    """`revenue_refresh_due` split over `processes` forked processes, each running the cycle
    on its own share of `shard` (shares of a shard are finer shards, so several commands
    and `--shard` still divide the tenants the same way; the advisory locks still guard
    against every other refresher). `stop` stops every process after its tenants in
    flight; a process whose parent dies stops the same way. Raises RefreshProcessFailed
    when a process died or failed, after the others finished."""
    stop = stop or threading.Event()
    if processes == 1:
        return revenue_refresh_due(shard=shard, stop=stop, progress=progress, **cycle)
    started = time.monotonic()
    connections.close_all()  # a connection must not be shared across a fork: each child opens its own
    context = multiprocessing.get_context("fork")
    children: list[tuple[multiprocessing.process.BaseProcess, multiprocessing.connection.Connection]] = []
    for share in shard_split(shard, processes):
        reader, writer = context.Pipe(duplex=False)
        child = context.Process(
            target=_share_refresh, args=(writer, share, os.getpid(), progress is not None, cycle), name="refresher"
        )
        child.start()
        writer.close()  # the child's end: the reader sees EOF when the child is gone
        children.append((child, reader))

    reports: dict[int, RefreshSummary] = {}
    errors: list[str] = []
    open_readers = {reader: n for n, (_, reader) in enumerate(children)}
    stopping = False
    while open_readers:
        if stop.is_set() and not stopping:
            stopping = True
            for child, _ in children:
                child.terminate()  # SIGTERM: the child stops after its tenants in flight
        for reader in multiprocessing.connection.wait(list(open_readers), timeout=0.2):
            try:
                kind, value = reader.recv()  # type: ignore[union-attr]
            except EOFError:
                del open_readers[reader]
                continue
            if kind == "error":
                errors.append(value)
            else:
                reports[open_readers[reader]] = value
                if progress:
                    progress(RefreshSummary.total(list(reports.values())))
    for child, reader in children:
        child.join()
        reader.close()
    summary = RefreshSummary.total(list(reports.values()))
    summary.duration_seconds = time.monotonic() - started
    died = [_exit_description(child.exitcode) for child, _ in children if child.exitcode]
    if errors or died:
        raise RefreshProcessFailed(
            f"{len(died)} of {processes} refresher processes failed ({'; '.join(errors or died)}); "
            "the others finished their tenants, the next cycle takes up the rest.",
            summary,
        )
    return summary


def shard_split(shard: tuple[int, int] | None, processes: int) -> list[tuple[int, int]]:
    """Shard k of n split into `processes` shards of n × processes: an id in shard k of n
    (id % n == k - 1) falls in exactly one of them (id % (n × p) == k - 1 + n × j)."""
    k, n = shard or (1, 1)
    return [(k + n * j, n * processes) for j in range(processes)]


def _share_refresh(
    writer: multiprocessing.connection.Connection,
    share: tuple[int, int],
    parent_pid: int,
    report_progress: bool,
    cycle: dict[str, Any],
) -> None:
    """A forked process's part of a split cycle: its share of the tenants, its summary (and,
    every 0.2 s, its progress) sent to the parent."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threading.Thread(target=_stop_when_orphaned, args=(parent_pid, stop), daemon=True).start()
    sent = 0.0

    def send(message: tuple[str, object]) -> None:
        try:
            writer.send(message)
        except OSError:  # the parent is gone: nobody to tell, and no reason to go on
            stop.set()

    def report(summary: RefreshSummary) -> None:  # called under the cycle's lock: one sender at a time
        nonlocal sent
        if time.monotonic() - sent >= 0.2:
            send(("progress", dataclasses.replace(summary)))
            sent = time.monotonic()

    try:
        summary = revenue_refresh_due(shard=share, stop=stop, progress=report if report_progress else None, **cycle)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the command
        logger.exception("refresh_process_error", extra={"event": "refresh_process_error"})
        send(("error", f"{type(exc).__name__}: {first_line(exc)}"))
        raise SystemExit(1) from None
    finally:
        connections.close_all()
    send(("done", summary))
    writer.close()


def _stop_when_orphaned(parent_pid: int, stop: threading.Event) -> None:
    """A parent killed outright (SIGKILL, the OOM killer) cannot pass on a stop: its
    children notice they were re-parented and stop after their tenants in flight."""
    while not stop.wait(0.5):
        if os.getppid() != parent_pid:
            stop.set()


def _exit_description(exitcode: int) -> str:
    return f"killed by signal {-exitcode}" if exitcode < 0 else f"exited {exitcode}"


def _refresh_one(tenant_id: uuid.UUID, ahead_seconds: float) -> str:
    try:
        result = revenue_refresh(tenant_id, correlation_id=str(uuid.uuid4()), ahead_seconds=ahead_seconds)
    except Exception:  # noqa: BLE001 - one tenant's database trouble must not stop the cycle
        logger.exception("refresh_tenant_error", extra={"event": "refresh_tenant_error", "tenant_id": str(tenant_id)})
        return "errors"
    return _COUNTERS[result.outcome]


def revenue_refresh_tenants(
    tenant_ids: list[uuid.UUID], *, correlation_id: str, force: bool = False, concurrency: int = 8
) -> dict[uuid.UUID, RefreshResult | None]:
    """Refresh these tenants now, a bounded number at a time, each through the leader path
    (an operator's "refresh now"; `force` refreshes even fresh or cooling entries). Returns
    each tenant's result, None when its refresh raised (logged)."""
    if not tenant_ids:
        return {}

    def one(tenant_id: uuid.UUID) -> RefreshResult | None:
        cid_token, tenant_token = correlation_id_var.set(correlation_id), tenant_id_var.set(str(tenant_id))
        try:
            return revenue_refresh(tenant_id, correlation_id=correlation_id, force=force)
        except Exception:  # noqa: BLE001 - one tenant's trouble is reported, not raised
            logger.exception(
                "refresh_tenant_error", extra={"event": "refresh_tenant_error", "tenant_id": str(tenant_id)}
            )
            return None
        finally:
            correlation_id_var.reset(cid_token)
            tenant_id_var.reset(tenant_token)
            connections.close_all()  # this thread's connections; the lock is already released

    workers = max(1, min(concurrency, len(tenant_ids)))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="refresh-now") as pool:
        return dict(zip(tenant_ids, pool.map(one, tenant_ids), strict=True))


def parse_shard(value: str) -> tuple[int, int]:
    """ "K/N" with 1 <= K <= N."""
    try:
        k, n = (int(part) for part in value.split("/"))
    except ValueError:
        raise ValueError(f"--shard {value!r} must look like K/N, e.g. 1/3") from None
    if not 1 <= k <= n:
        raise ValueError(f"--shard {value!r} needs 1 <= K <= N")
    return k, n
