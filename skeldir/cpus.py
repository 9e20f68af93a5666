"""How many CPUs this process can use: its affinity, capped by a cgroup CPU quota (a
container's `--cpus`, a Kubernetes CPU limit), which neither `os.cpu_count()` nor the
affinity shows."""

from __future__ import annotations

import math
import os
from pathlib import Path

# cgroup v2 ("<quota> <period>" or "max <period>"), then v1 (quota -1 when unlimited).
_CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
_CGROUP_V1 = (Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))


def usable_cpus() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    limit = _cgroup_cpu_limit()
    return min(cpus, limit) if limit else cpus  # a limit is at least 1


def cpu_limit(quota: str, period: str) -> int | None:
    """Whole CPUs a quota of `quota` µs per `period` µs amounts to (rounded up: 1.5 CPUs
    keep two processes busy part of the time); None when unlimited."""
    quota, period = quota.strip(), period.strip()
    if quota in ("max", "-1") or not period or int(period) <= 0:
        return None
    return max(1, math.ceil(int(quota) / int(period)))


def _cgroup_cpu_limit() -> int | None:
    try:
        if _CGROUP_V2.exists():
            return cpu_limit(*_CGROUP_V2.read_text().split()[:2])
        quota, period = _CGROUP_V1
        if quota.exists() and period.exists():
            return cpu_limit(quota.read_text(), period.read_text())
    except (OSError, ValueError, TypeError):  # an unreadable or unexpected file: no limit known
        return None
    return None
