"""Real signed JWTs for tests: an RSA key ring in settings, a `mint` fixture, and an
`api` client that sends bearer tokens and correlation ids."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client

KID = "api-test-1"


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def jwt_keys(settings, rsa_key) -> rsa.RSAPrivateKey:
    public = (
        rsa_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings.JWT_PUBLIC_KEYS = {KID: public}
    settings.JWT_ISSUER = ""
    settings.JWT_AUDIENCE = ""
    return rsa_key


@pytest.fixture
def mint(jwt_keys) -> Callable[..., str]:
    def mint(tenant_id: uuid.UUID | str, *, scopes: Any = ("viewer",), kid: str = KID, **claims: Any) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "tenant_id": str(tenant_id),
            "jti": str(uuid.uuid4()),
            "iat": now,
            "exp": now + 300,
            "sub": "user-1",
        }
        if scopes is not None:
            payload["scopes"] = list(scopes) if not isinstance(scopes, str) else scopes
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, jwt_keys, algorithm="RS256", headers={"kid": kid})

    return mint


class ApiClient:
    def __init__(self, client: Client) -> None:
        self.client = client

    def get(self, path: str, *, token: str | None = None, correlation_id: str | None = "auto", **headers: str) -> Any:
        sent: dict[str, str] = {}
        if token is not None:
            sent["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        if correlation_id == "auto":
            correlation_id = str(uuid.uuid4())
        if correlation_id is not None:
            sent["HTTP_X_CORRELATION_ID"] = correlation_id
        for name, value in headers.items():
            sent["HTTP_" + name.upper().replace("-", "_")] = value
        return self.client.get(path, **sent)


@pytest.fixture
def api() -> ApiClient:
    return ApiClient(Client())
