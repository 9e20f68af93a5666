"""Gunicorn settings for `make run` (and a starting point for production).

Threaded workers: a request that waits for another process's refresh (a singleflight
follower) blocks a thread, not a whole worker process.
"""

import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "8"))
timeout = 30
graceful_timeout = 10
accesslog = "-"
errorlog = "-"
