"""Benchmark overlay: the production settings plus two floor views in the same server."""

from skeldir.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
