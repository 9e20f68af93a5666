"""The security suite replays, against a live server over real HTTP, what an outside attack
on the running service tried (issue "Security hardening"), and asserts the refusal and that
nothing was stored."""

from tests.api.oauth_support import simulated  # noqa: F401 (fixture)
from tests.jwt_fixtures import *  # noqa: F403
