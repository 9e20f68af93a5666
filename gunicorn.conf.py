"""Gunicorn settings for `make run` (and a starting point for production).

Threaded workers: a request that waits for another process's refresh (a singleflight
follower) blocks a thread, not a whole worker process.
"""

import gc
import glob
import os
import tempfile

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "8"))
timeout = 30
graceful_timeout = 10
# The application logs every request it serves as a structured `request_served` line;
# GUNICORN_ACCESS_LOG=- adds gunicorn's own access log beside it.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
# Path without the query string, and no referer: an OAuth callback carries the
# authorization code and the state in its query (and the platform's page as referer).
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s'
errorlog = "-"

# /metrics adds up every worker's samples (prometheus-client's multiprocess mode): each
# process writes them under PROMETHEUS_MULTIPROC_DIR, which must be set before the workers
# import the application. A fresh private directory unless one is given; emptied when the
# server starts, and a dead worker's files are marked so its live gauges go (its counters stay).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="skeldir-metrics-"))


def on_starting(server):
    for stale in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
        os.remove(stale)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    # What a worker loads to serve (Django, DRF, the apps, the URLconf) lives as long as the
    # worker. Frozen, it is left out of every full garbage collection, which otherwise walked
    # it all while each of the worker's threads waited: pauses of ~100 ms under load, and the
    # cache hit's p99 (BENCHMARKS.md, "The cache hit's tail").
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the URLconf is imported on first use: load it now
    gc.freeze()
