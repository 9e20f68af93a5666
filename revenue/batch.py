"""The cron's cycle: refresh every due tenant, a bounded number at a time.

Several copies may run at once, on several machines: each tenant is refreshed under its
advisory lock and re-read after taking it, so a tenant another process holds is skipped
and one it just refreshed is no longer due — each due tenant is refreshed once per cycle.
Tenant ids are streamed through a bounded queue, so memory does not grow with their number.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.db import connections

from revenue.realtime import RefreshResult, revenue_refresh
from revenue.selectors import tenant_ids_iter
from skeldir.correlation import correlation_id_var, tenant_id_var

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
