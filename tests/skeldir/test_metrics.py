"""Access to /metrics, and prometheus-client's multiprocess mode (several gunicorn workers
add up in one scrape)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_gauges(monkeypatch):
    """Access tests need no database: the scrape-time gauges are left out."""
    monkeypatch.setattr("skeldir.metrics.OperatorStateCollector.collect", lambda self: iter(()))


def test_without_a_token_only_loopback_clients_are_answered(settings, no_gauges):
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 200  # the test client is 127.0.0.1
    assert Client(REMOTE_ADDR="::1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 404
    assert Client(REMOTE_ADDR="203.0.113.9").get("/metrics").status_code == 404


def test_with_a_token_every_scrape_needs_it(settings, no_gauges):
    settings.METRICS_TOKEN = "metrics-scrape-token-for-tests"
    client = Client(REMOTE_ADDR="10.1.2.3")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics").headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert Client().get("/metrics").status_code == 401  # loopback is no excuse once a token is set
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-scrape-token-for-tests")
    assert response.status_code == 200 and b"skeldir_http_requests_total" in response.content
    assert client.post("/metrics", HTTP_AUTHORIZATION="Bearer metrics-scrape-token-for-tests").status_code == 405


_WORKER = """
import django, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "skeldir.test_settings"
django.setup()
from skeldir import metrics
if sys.argv[1] == "count":
    metrics.HTTP_REQUESTS.labels("realtime-revenue-v1", "GET", "200").inc(int(sys.argv[2]))
    metrics.PLATFORM_FETCH_DURATION.labels("stripe").observe(0.2)
else:
    metrics.OperatorStateCollector.collect = lambda self: iter(())
    sys.stdout.write(metrics.exposition().decode())
"""


def test_the_worker_processes_counters_add_up_in_one_scrape(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", _WORKER, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,  # noqa: S603
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    run("count", "2")
    run("count", "3")
    exposed = run("scrape")
    assert 'skeldir_http_requests_total{endpoint="realtime-revenue-v1",method="GET",status="200"} 5.0' in exposed
    assert 'skeldir_platform_fetch_duration_seconds_count{platform="stripe"} 2.0' in exposed
