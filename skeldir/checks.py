"""System checks for the API authentication settings: a bad key ring or algorithm list
fails `manage.py check` (and `make run`), not the first request. Ids are stable:
skeldir.W001, skeldir.E001–E004."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from skeldir.auth import ALGORITHM_KEY_TYPES, accepted_algorithms, jwks_url_problem, key_ring_load


@register("skeldir")
def check_jwt_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if not settings.JWT_PUBLIC_KEYS and not settings.JWT_JWKS_URL:
        messages.append(
            Warning(
                "No JWT verification keys are configured: every API request will be refused with 401.",
                hint="Set JWT_PUBLIC_KEYS ({kid: public key PEM}) or JWT_JWKS_URL.",
                id="skeldir.W001",
            )
        )
    keys, problems = key_ring_load(settings.JWT_PUBLIC_KEYS)
    messages += [Error(problem, id="skeldir.E001") for problem in problems]

    algorithms = settings.JWT_ALGORITHMS
    refused = [alg for alg in algorithms if alg not in ALGORITHM_KEY_TYPES]
    if not algorithms or refused:
        messages.append(
            Error(
                "JWT_ALGORITHMS must name asymmetric signature algorithms only"
                + (f"; not accepted: {', '.join(map(str, refused))}." if refused else "."),
                hint=f"Choose from {', '.join(ALGORITHM_KEY_TYPES)} (default RS256).",
                id="skeldir.E002",
            )
        )

    problem = jwks_url_problem(settings.JWT_JWKS_URL)
    if problem:
        messages.append(Error(problem, id="skeldir.E003"))

    accepted = accepted_algorithms()
    for kid, key in keys.items():
        if key is not None and accepted and not any(isinstance(key, ALGORITHM_KEY_TYPES[alg]) for alg in accepted):
            messages.append(
                Error(
                    f"JWT_PUBLIC_KEYS[{kid!r}] ({type(key).__name__}) fits none of "
                    f"JWT_ALGORITHMS ({', '.join(accepted)}).",
                    id="skeldir.E004",
                )
            )
    return messages
