"""API test fixtures: real signed JWTs (shared with the resilience suite), and the
connections API's simulator wiring and log scan."""

from tests.api.oauth_support import log_scan, simulated  # noqa: F401
from tests.jwt_fixtures import *  # noqa: F403
