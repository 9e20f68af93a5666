"""Bearer JWT authentication (DESIGN.md §8): what is accepted, every refusal and its code,
scopes, keys (ring, JWKS), the WWW-Authenticate challenge, and `issue_token`.

Only the zero-queries test touches the database: every other test runs without it, so
pytest-django would fail any of them that queried.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from skeldir.auth import (
    MAX_TOKEN_BYTES,
    InsufficientScope,
    IsAuthenticatedPrincipal,
    JWTAuthentication,
    RequireScope,
    TokenPrincipal,
    scopes_from_claims,
    www_authenticate,
)
from skeldir.checks import check_jwt_settings
from skeldir.tenancy import tenant_create
from skeldir.tokens import token_issue

KID = "test-1"
TENANT = uuid.UUID("6f1c3b9e-2d4a-4c5b-9e8f-0a1b2c3d4e5f")
REALM = 'Bearer realm="skeldir-revenue"'
ROOT = Path(__file__).resolve().parents[2]


def _public_pem(key: Any) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _private_pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def keyring(settings, rsa_key):
    settings.JWT_PUBLIC_KEYS = {KID: _public_pem(rsa_key)}
    settings.JWT_JWKS_URL = ""
    settings.JWT_ALGORITHMS = ["RS256"]
    settings.JWT_ISSUER = ""
    settings.JWT_AUDIENCE = ""
    settings.JWT_LEEWAY_SECONDS = 30
    return settings


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "tenant_id": str(TENANT),
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 300,
        "sub": "user-1",
        "scopes": ["viewer"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture
def mint(rsa_key):
    def mint(*, key: Any = None, kid: str | None = KID, algorithm: str = "RS256", **overrides: Any) -> str:
        headers = {"kid": kid} if kid is not None else {}
        return jwt.encode(claims(**overrides), key or rsa_key, algorithm=algorithm, headers=headers)

    return mint


def drf_request(authorization: str | None = None) -> Request:
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    return Request(APIRequestFactory().get("/api/v1/revenue/realtime", **extra))


def authenticate(authorization: str | None) -> tuple[Request, Any]:
    request = drf_request(authorization)
    return request, JWTAuthentication().authenticate(request)


def refused(authorization: str) -> tuple[Request, AuthenticationFailed]:
    request = drf_request(authorization)
    with pytest.raises(AuthenticationFailed) as info:
        JWTAuthentication().authenticate(request)
    return request, info.value


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(secret: bytes, header: dict[str, Any], payload: dict[str, Any]) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


# --- Accepted ---------------------------------------------------------------------------


def test_a_valid_token_yields_the_tenant_principal(keyring, mint):
    token = mint(sub="user-7", scopes=["viewer", "manager"])
    request, (principal, auth) = authenticate(f"Bearer {token}")
    assert isinstance(principal, TokenPrincipal)
    assert principal.tenant_id == TENANT
    assert principal.subject == "user-7"
    assert principal.scopes == frozenset({"viewer", "manager"})
    assert principal.is_authenticated is True
    assert principal.expires_at.tzinfo is not None
    assert principal.expires_at == datetime.fromtimestamp(auth["exp"], tz=UTC)
    assert principal.jti == auth["jti"]
    assert principal.has_scope("VIEWER") and not principal.has_scope("admin")
    assert token not in repr(principal) and token not in repr(auth)


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_scheme_is_case_insensitive(keyring, mint, scheme):
    _, (principal, _) = authenticate(f"{scheme} {mint()}")
    assert principal.tenant_id == TENANT


def test_a_token_without_sub_has_no_subject(keyring, mint):
    _, (principal, _) = authenticate(f"Bearer {mint(sub=None)}")
    assert principal.subject is None


def test_no_authorization_header_is_not_a_refusal(keyring):
    request, result = authenticate(None)
    assert result is None
    assert JWTAuthentication().authenticate_header(request) == REALM


# --- Refused ----------------------------------------------------------------------------


def _refusal_cases(mint, rsa_key, other_key) -> dict[str, tuple[str, str]]:
    now = int(time.time())
    public = _public_pem(rsa_key).encode()
    return {
        "wrong scheme": (f"Basic {base64.b64encode(b'u:p').decode()}", "unsupported_scheme"),
        "token scheme": (f"Token {mint()}", "unsupported_scheme"),
        "empty token": ("Bearer ", "token_malformed"),
        "spaced token": (f"Bearer {mint()} extra", "token_malformed"),
        "over 8 KiB": ("Bearer " + "a" * (MAX_TOKEN_BYTES + 1), "token_malformed"),
        "not a jwt": ("Bearer not-a-jwt", "token_malformed"),
        "undecodable header": ("Bearer !!!.eyJ0ZW5hbnRfaWQiOiAxfQ.c2ln", "token_malformed"),
        "header not json": (f"Bearer {b64(b'nope')}.{b64(b'{}')}.c2ln", "token_malformed"),
        "non-ascii": ("Bearer é.é.é", "token_malformed"),
        "unknown kid": (f"Bearer {mint(kid='nobody')}", "unknown_key"),
        "missing kid": (f"Bearer {mint(kid=None)}", "unknown_key"),
        "bad signature": (f"Bearer {mint(key=other_key)}", "token_invalid"),
        "alg none": (f"Bearer {jwt.encode(claims(), None, algorithm='none', headers={'kid': KID})}", "token_invalid"),
        "hs256 shared secret": (
            f"Bearer {jwt.encode(claims(), 's' * 32, algorithm='HS256', headers={'kid': KID})}",
            "token_invalid",
        ),
        "hs256 keyed with our public key": (
            f"Bearer {hs256(public, {'alg': 'HS256', 'typ': 'JWT', 'kid': KID}, claims())}",
            "token_invalid",
        ),
        "expired": (f"Bearer {mint(iat=now - 600, exp=now - 60)}", "token_expired"),
        "nbf in the future": (f"Bearer {mint(nbf=now + 120)}", "token_not_yet_valid"),
        "iat in the future": (f"Bearer {mint(iat=now + 120, exp=now + 600)}", "token_not_yet_valid"),
        "no exp": (f"Bearer {mint(exp=None)}", "claims_missing"),
        "no iat": (f"Bearer {mint(iat=None)}", "claims_missing"),
        "no jti": (f"Bearer {mint(jti=None)}", "claims_missing"),
        "empty jti": (f"Bearer {mint(jti='')}", "claims_missing"),
        "no tenant_id": (f"Bearer {mint(tenant_id=None)}", "claims_missing"),
        "tenant_id not a uuid": (f"Bearer {mint(tenant_id='acme')}", "claims_invalid"),
        "tenant_id a number": (f"Bearer {mint(tenant_id=42)}", "claims_invalid"),
        "exp not a number": (f"Bearer {mint(exp='tomorrow')}", "claims_invalid"),
        "nbf not a number": (f"Bearer {mint(nbf='later')}", "claims_invalid"),
        "iat not a number": (f"Bearer {mint(iat='today')}", "claims_invalid"),
        "scopes not a list": (f"Bearer {mint(scopes={'viewer': True})}", "claims_invalid"),
        "scopes of numbers": (f"Bearer {mint(scopes=[1, 2])}", "claims_invalid"),
        "roles not a list": (f"Bearer {mint(scopes=None, roles=7)}", "claims_invalid"),
    }


REFUSALS = [
    "wrong scheme",
    "token scheme",
    "empty token",
    "spaced token",
    "over 8 KiB",
    "not a jwt",
    "undecodable header",
    "header not json",
    "non-ascii",
    "unknown kid",
    "missing kid",
    "bad signature",
    "alg none",
    "hs256 shared secret",
    "hs256 keyed with our public key",
    "expired",
    "nbf in the future",
    "iat in the future",
    "no exp",
    "no iat",
    "no jti",
    "empty jti",
    "no tenant_id",
    "tenant_id not a uuid",
    "tenant_id a number",
    "exp not a number",
    "nbf not a number",
    "iat not a number",
    "scopes not a list",
    "scopes of numbers",
    "roles not a list",
]


@pytest.mark.parametrize("case", REFUSALS)
def test_each_bad_credential_is_refused_with_its_code(keyring, mint, rsa_key, other_key, case):
    cases = _refusal_cases(mint, rsa_key, other_key)
    assert set(cases) == set(REFUSALS)
    authorization, code = cases[case]
    request, exc = refused(authorization)
    assert exc.get_codes() == code
    assert request._auth_error_code == code
    detail = str(exc.detail)
    assert detail.endswith(".") and len(detail) < 120
    token = authorization.partition(" ")[2]
    assert (not token or token not in detail) and "BEGIN" not in detail


def test_refusal_names_the_missing_claim(keyring, mint):
    _, exc = refused(f"Bearer {mint(tenant_id=None)}")
    assert str(exc.detail) == "The token lacks the required claim 'tenant_id'."


def test_hs256_is_refused_even_when_listed_in_jwt_algorithms(keyring, rsa_key):
    # HMAC keyed with the public key would verify if the algorithm list were trusted.
    keyring.JWT_ALGORITHMS = ["RS256", "HS256"]
    token = hs256(_public_pem(rsa_key).encode(), {"alg": "HS256", "typ": "JWT", "kid": KID}, claims())
    _, exc = refused(f"Bearer {token}")
    assert exc.get_codes() == "token_invalid"


def test_a_token_signed_with_an_algorithm_the_key_cannot_verify_is_refused_not_a_500(keyring):
    keyring.JWT_ALGORITHMS = ["RS256", "ES256"]
    token = jwt.encode(claims(), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": KID})
    _, exc = refused(f"Bearer {token}")
    assert exc.get_codes() == "token_invalid"


def test_without_keys_every_token_is_refused_clearly(settings, mint):
    settings.JWT_PUBLIC_KEYS = {}
    settings.JWT_JWKS_URL = ""
    _, exc = refused(f"Bearer {mint()}")
    assert exc.get_codes() == "token_unverifiable"
    assert str(exc.detail) == "This server has no token verification keys configured."


def test_a_ring_key_that_does_not_load_refuses_its_tokens_without_a_500(keyring, mint):
    keyring.JWT_PUBLIC_KEYS = {KID: "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n"}
    _, exc = refused(f"Bearer {mint()}")
    assert exc.get_codes() == "token_unverifiable"


def test_ring_pem_with_escaped_newlines_loads(keyring, mint, rsa_key):
    keyring.JWT_PUBLIC_KEYS = {KID: _public_pem(rsa_key).replace("\n", "\\n")}
    _, (principal, _) = authenticate(f"Bearer {mint()}")
    assert principal.tenant_id == TENANT


# --- Time and leeway --------------------------------------------------------------------


def test_leeway_accepts_a_token_just_expired_and_one_issued_just_ahead(keyring, mint):
    now = int(time.time())
    keyring.JWT_LEEWAY_SECONDS = 30
    assert authenticate(f"Bearer {mint(iat=now - 600, exp=now - 10)}")[1] is not None
    assert authenticate(f"Bearer {mint(iat=now + 10, nbf=now + 10)}")[1] is not None
    keyring.JWT_LEEWAY_SECONDS = 0
    assert refused(f"Bearer {mint(iat=now - 600, exp=now - 10)}")[1].get_codes() == "token_expired"
    assert refused(f"Bearer {mint(iat=now + 10)}")[1].get_codes() == "token_not_yet_valid"


# --- Issuer and audience ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"iss": "https://issuer.example", "aud": "skeldir-api"}, None),
        ({"iss": "https://evil.example", "aud": "skeldir-api"}, "token_invalid"),
        ({"iss": "https://issuer.example", "aud": "other-api"}, "token_invalid"),
        ({"iss": "https://issuer.example", "aud": ["other-api", "skeldir-api"]}, None),
        ({"aud": "skeldir-api"}, "claims_missing"),
        ({"iss": "https://issuer.example"}, "claims_missing"),
    ],
)
def test_issuer_and_audience_are_checked_when_configured(keyring, mint, extra, code):
    keyring.JWT_ISSUER = "https://issuer.example"
    keyring.JWT_AUDIENCE = "skeldir-api"
    if code is None:
        assert authenticate(f"Bearer {mint(**extra)}")[1] is not None
    else:
        assert refused(f"Bearer {mint(**extra)}")[1].get_codes() == code


def test_issuer_and_audience_are_ignored_when_not_configured(keyring, mint):
    assert authenticate(f"Bearer {mint(iss='anyone', aud='anything')}")[1] is not None


# --- Scopes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token_claims", "scopes"),
    [
        ({"scopes": ["viewer"]}, {"viewer"}),
        ({"scopes": ["Viewer", "MANAGER", "billing"]}, {"viewer", "manager"}),
        ({"scopes": "viewer manager"}, {"viewer", "manager"}),
        ({"scopes": "  admin  "}, {"admin"}),
        ({"scopes": ["admin"]}, {"admin"}),  # explicit scopes: no hierarchy
        ({"scopes": [], "role": "admin"}, set()),  # a present `scopes` claim is authoritative
        ({"scopes": "viewer", "roles": ["admin"]}, {"viewer"}),
        ({"role": "admin"}, {"admin", "manager", "viewer"}),
        ({"role": "Manager"}, {"manager", "viewer"}),
        ({"role": "viewer"}, {"viewer"}),
        ({"roles": ["manager"]}, {"manager", "viewer"}),
        ({"roles": ["viewer", "admin"]}, {"admin", "manager", "viewer"}),
        ({"role": "owner"}, set()),
        ({}, set()),
        ({"scopes": None, "role": "viewer"}, {"viewer"}),
    ],
)
def test_scopes_from_claims(token_claims, scopes):
    assert scopes_from_claims(token_claims) == frozenset(scopes)


def test_role_expands_in_an_authenticated_principal(keyring, mint):
    _, (principal, _) = authenticate(f"Bearer {mint(scopes=None, role='admin')}")
    assert principal.scopes == frozenset({"admin", "manager", "viewer"})


# --- Keys: reset on setting change, JWKS --------------------------------------------------


def test_the_key_ring_follows_a_setting_change(keyring, mint, other_key):
    assert authenticate(f"Bearer {mint()}")[1] is not None  # parsed and cached
    keyring.JWT_PUBLIC_KEYS = {KID: _public_pem(other_key)}
    assert refused(f"Bearer {mint()}")[1].get_codes() == "token_invalid"
    assert authenticate(f"Bearer {mint(key=other_key)}")[1] is not None


class _JWKSServer:
    """A JWKS endpoint on 127.0.0.1:<free port> (PyJWKClient fetches with urllib)."""

    def __init__(self) -> None:
        self.status, self.body, self.hits = 200, b"{}", 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                owner.hits += 1
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def serve_keys(self, **keys: Any) -> None:
        jwks = []
        for kid, key in keys.items():
            jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            jwks.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        self.body = json.dumps({"keys": jwks}).encode()

    def close(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()


@pytest.fixture
def jwks(settings):
    server = _JWKSServer()
    settings.JWT_PUBLIC_KEYS = {}
    settings.JWT_JWKS_URL = server.url
    settings.JWT_JWKS_CACHE_SECONDS = 300
    settings.JWT_ALGORITHMS = ["RS256"]
    settings.JWT_ISSUER = ""
    settings.JWT_AUDIENCE = ""
    yield server
    server.close()


def test_jwks_keys_verify_tokens_and_are_fetched_once(jwks, mint, rsa_key):
    jwks.serve_keys(**{"jwks-1": rsa_key})
    for _ in range(3):
        _, (principal, _) = authenticate(f"Bearer {mint(kid='jwks-1')}")
        assert principal.tenant_id == TENANT
    assert jwks.hits == 1


def test_a_kid_the_jwks_does_not_know_is_unknown_key(jwks, mint, rsa_key):
    jwks.serve_keys(**{"jwks-1": rsa_key})
    assert refused(f"Bearer {mint(kid='rotated-away')}")[1].get_codes() == "unknown_key"


@pytest.mark.parametrize(("status", "body"), [(500, b"oops"), (200, b"<html>not json</html>"), (200, b'{"keys": []}')])
def test_a_jwks_failure_is_a_401_token_unverifiable(jwks, mint, status, body):
    jwks.status, jwks.body = status, body
    _, exc = refused(f"Bearer {mint(kid='jwks-1')}")
    assert exc.get_codes() == "token_unverifiable"


def test_an_unreachable_jwks_is_token_unverifiable(jwks, mint):
    jwks.close()
    _, exc = refused(f"Bearer {mint(kid='jwks-1')}")
    assert exc.get_codes() == "token_unverifiable"


def test_the_ring_answers_first_and_jwks_covers_other_kids(jwks, settings, mint, rsa_key, other_key):
    settings.JWT_PUBLIC_KEYS = {KID: _public_pem(rsa_key)}
    jwks.serve_keys(**{"jwks-1": other_key})
    assert authenticate(f"Bearer {mint()}")[1] is not None
    assert jwks.hits == 0
    assert authenticate(f"Bearer {mint(key=other_key, kid='jwks-1')}")[1] is not None
    assert jwks.hits == 1


def test_alg_none_never_costs_a_jwks_fetch(jwks):
    token = jwt.encode(claims(), None, algorithm="none", headers={"kid": "jwks-1"})
    assert refused(f"Bearer {token}")[1].get_codes() == "token_invalid"
    assert jwks.hits == 0


# --- The challenge (RFC 6750 §3) -------------------------------------------------------------


def test_authenticate_header_for_each_case(keyring, mint):
    auth = JWTAuthentication()
    assert auth.authenticate_header(drf_request()) == REALM

    request, _ = refused(f"Bearer {mint(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)}")
    assert auth.authenticate_header(request) == (
        f'{REALM}, error="invalid_token", error_description="The token has expired."'
    )

    request, _ = refused("Bearer ")
    assert auth.authenticate_header(request) == (
        f'{REALM}, error="invalid_request", error_description="The bearer token is empty."'
    )

    request, _ = refused("Basic dTpw")  # no bearer token presented: no error code (§3.1)
    assert auth.authenticate_header(request) == REALM


def test_www_authenticate_for_the_error_handler(keyring, mint):
    request, exc = refused(f"Bearer {mint(kid='nobody')}")
    assert www_authenticate(request, exc) == (
        f'{REALM}, error="invalid_token", error_description="The token is signed with an unknown key."'
    )
    assert www_authenticate(drf_request(), NotAuthenticated()) == REALM
    assert www_authenticate(drf_request(), InsufficientScope("viewer")) == (
        f'{REALM}, error="insufficient_scope", '
        'error_description="The token lacks the \'viewer\' scope this operation requires.", scope="viewer"'
    )
    assert www_authenticate(drf_request(), PermissionDenied()) is None
    assert www_authenticate(drf_request(), ValueError("boom")) is None


def test_error_description_never_breaks_the_quoted_string(keyring):
    value = www_authenticate(drf_request(), AuthenticationFailed('bad "quote" \\ and ünïcode'))
    assert value == f'{REALM}, error="invalid_token", error_description="bad quote  and ncode"'


# --- Permissions, through a DRF view ---------------------------------------------------------


class _ViewerOnly(APIView):
    permission_classes = [RequireScope("viewer")]

    def get(self, request: Request) -> Response:
        return Response({"tenant_id": str(request.user.tenant_id)})


@pytest.fixture
def drf_default_errors(settings):
    # The project's problem+json handler is tested on its own; here DRF's plain one.
    handler = "rest_framework.views.exception_handler"
    settings.REST_FRAMEWORK = {**django_settings.REST_FRAMEWORK, "EXCEPTION_HANDLER": handler}


def _call(authorization: str | None):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    return _ViewerOnly.as_view()(APIRequestFactory().get("/x", **extra))


def test_a_viewer_token_passes_require_scope(keyring, mint, drf_default_errors):
    response = _call(f"Bearer {mint()}")
    assert response.status_code == 200
    assert response.data == {"tenant_id": str(TENANT)}


def test_no_token_is_401_with_the_bare_realm(keyring, drf_default_errors):
    response = _call(None)
    assert response.status_code == 401
    assert response.data["detail"].code == "not_authenticated"
    assert response["WWW-Authenticate"] == REALM


def test_a_refused_token_is_401_with_invalid_token(keyring, mint, other_key, drf_default_errors):
    response = _call(f"Bearer {mint(key=other_key)}")
    assert response.status_code == 401
    assert response.data["detail"].code == "token_invalid"
    assert response["WWW-Authenticate"].startswith(f'{REALM}, error="invalid_token"')


def test_a_token_without_the_scope_is_403_insufficient_scope(keyring, mint, drf_default_errors):
    response = _call(f"Bearer {mint(scopes=['admin'])}")
    assert response.status_code == 403
    assert response.data["detail"].code == "insufficient_scope"
    assert response.data["detail"] == "The token lacks the 'viewer' scope this operation requires."


def test_require_scope_is_one_class_per_scope():
    assert RequireScope("viewer") is RequireScope("Viewer")
    assert RequireScope("viewer") is not RequireScope("admin")
    with pytest.raises(ValueError, match="'owner' is not a scope"):
        RequireScope("owner")


def test_is_authenticated_principal(keyring, mint):
    request = drf_request(f"Bearer {mint()}")
    request.authenticators = (JWTAuthentication(),)
    assert IsAuthenticatedPrincipal().has_permission(request, None) is True
    anonymous = drf_request()
    anonymous.authenticators = (JWTAuthentication(),)
    assert IsAuthenticatedPrincipal().has_permission(anonymous, None) is False


@pytest.mark.django_db
def test_authentication_and_scope_check_run_no_query(keyring, mint, django_assert_num_queries):
    token = mint()
    with django_assert_num_queries(0):
        request = drf_request(f"Bearer {token}")
        request.authenticators = (JWTAuthentication(),)
        assert RequireScope("viewer")().has_permission(request, None) is True
        assert _call(f"Bearer {token}").status_code == 200


# --- System checks -------------------------------------------------------------------------------


def _ids(messages) -> list[str]:
    return sorted(m.id for m in messages)


def test_checks_pass_with_a_valid_ring(keyring):
    assert check_jwt_settings() == []


def test_check_warns_when_no_keys_are_configured(settings):
    settings.JWT_PUBLIC_KEYS, settings.JWT_JWKS_URL = {}, ""
    assert _ids(check_jwt_settings()) == ["skeldir.W001"]


def test_checks_flag_bad_keys_algorithms_and_urls(keyring):
    keyring.JWT_PUBLIC_KEYS = {
        "bad": "junk",
        "ec": _public_pem(ec.generate_private_key(ec.SECP256R1())),
    }
    keyring.JWT_ALGORITHMS = ["RS256", "HS256"]
    keyring.JWT_JWKS_URL = "file:///etc/passwd"
    assert _ids(check_jwt_settings()) == ["skeldir.E001", "skeldir.E002", "skeldir.E003", "skeldir.E004"]


# --- Minting: token_issue and manage.py issue_token -----------------------------------------------


@pytest.fixture
def signing(keyring, rsa_key):
    keyring.JWT_SIGNING_KEY = _private_pem(rsa_key)
    keyring.JWT_SIGNING_KID = KID
    return keyring


@pytest.fixture
def minting(signing, db):
    """`issue_token` mints only for a tenant that exists."""
    tenant_create(name="minting", tenant_id=TENANT)
    return signing


def run_issue_token(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("issue_token", *args, stdout=out, stderr=err)
    assert "PRIVATE KEY" not in out.getvalue() + err.getvalue()
    return out.getvalue().strip().splitlines()[-1]


def test_issue_token_prints_a_token_the_public_key_verifies(minting, rsa_key):
    token = run_issue_token("--tenant", str(TENANT), "--scopes", "viewer,Manager", "--ttl", "600", "--subject", "ops")
    assert jwt.get_unverified_header(token)["kid"] == KID
    payload = jwt.decode(token, rsa_key.public_key(), algorithms=["RS256"])
    assert payload["tenant_id"] == str(TENANT)
    assert payload["scopes"] == ["viewer", "manager"]
    assert payload["sub"] == "ops"
    assert payload["exp"] - payload["iat"] == 600
    assert uuid.UUID(payload["jti"]).version == 4
    assert "iss" not in payload and "aud" not in payload
    _, (principal, _) = authenticate(f"Bearer {token}")
    assert principal.scopes == frozenset({"viewer", "manager"})


def test_issue_token_defaults_to_viewer_and_accepts_space_separated_scopes(minting):
    payload = jwt.decode(run_issue_token("--tenant", str(TENANT)), options={"verify_signature": False})
    assert payload["scopes"] == ["viewer"] and "sub" not in payload
    assert payload["exp"] - payload["iat"] == 3600
    payload = jwt.decode(
        run_issue_token("--tenant", str(TENANT), "--scopes", "admin viewer"), options={"verify_signature": False}
    )
    assert payload["scopes"] == ["admin", "viewer"]


def test_issue_token_role_implies_the_lower_roles(minting):
    """`--scopes manager` grants exactly manager (it cannot read revenue); `--role manager`
    is what an operator wants for a manager who also reads."""
    token = run_issue_token("--tenant", str(TENANT), "--role", "Manager")
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["role"] == "manager" and "scopes" not in payload
    _, (principal, _) = authenticate(f"Bearer {token}")
    assert principal.scopes == frozenset({"viewer", "manager"})
    with pytest.raises(CommandError, match="'owner' is not a role") as refused:
        run_issue_token("--tenant", str(TENANT), "--role", "owner")
    assert refused.value.returncode == 2
    with pytest.raises(CommandError, match="not allowed with argument"):
        run_issue_token("--tenant", str(TENANT), "--role", "admin", "--scopes", "manager")


def test_issue_token_adds_issuer_and_audience_when_configured(signing):
    signing.JWT_ISSUER, signing.JWT_AUDIENCE = "https://issuer.example", "skeldir-api"
    token = token_issue(tenant_id=TENANT)
    payload = jwt.decode(token, options={"verify_signature": False})
    assert (payload["iss"], payload["aud"]) == ("https://issuer.example", "skeldir-api")
    assert authenticate(f"Bearer {token}")[1] is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "acme"], "'acme' is not a tenant id (a UUID)."),
        (["--tenant", str(TENANT), "--scopes", "viewer,owner"], "'owner' is not a scope (viewer, manager, admin)."),
        (["--tenant", str(TENANT), "--ttl", "0"], "The token lifetime must be 1 to 86400 seconds, not 0."),
        (["--tenant", str(TENANT), "--ttl", "86401"], "The token lifetime must be 1 to 86400 seconds, not 86401."),
        (["--tenant", str(TENANT), "--ttl", "soon"], "--ttl must be a whole number of seconds, not 'soon'."),
        (["--tenant", str(uuid.UUID(int=7))], f"No tenant with id {uuid.UUID(int=7)}."),
    ],
)
def test_issue_token_refuses_bad_input_with_exit_code_2(minting, args, message):
    with pytest.raises(CommandError) as info:
        run_issue_token(*args)
    assert str(info.value) == message
    assert info.value.returncode == 2


def test_a_new_signing_key_signs_the_next_token_at_once(signing, rsa_key):
    """The parsed key is kept between tokens, keyed by its PEM: rotating JWT_SIGNING_KEY
    needs no restart, and the old key signs nothing after it."""
    first = token_issue(tenant_id=TENANT)
    assert jwt.decode(first, rsa_key.public_key(), algorithms=["RS256"])["tenant_id"] == str(TENANT)
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signing.JWT_SIGNING_KEY = _private_pem(rotated)
    second = token_issue(tenant_id=TENANT)
    assert jwt.decode(second, rotated.public_key(), algorithms=["RS256"])["tenant_id"] == str(TENANT)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(second, rsa_key.public_key(), algorithms=["RS256"])


@pytest.mark.parametrize(
    ("key", "kid", "message"),
    [
        ("", "", "No signing key configured: set JWT_SIGNING_KEY and JWT_SIGNING_KID."),
        ("present", "", "No signing key configured: set JWT_SIGNING_KEY and JWT_SIGNING_KID."),
        (
            "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----",
            KID,
            "JWT_SIGNING_KEY is not an unencrypted PEM private key.",
        ),
        ("ec", KID, "JWT_SIGNING_KEY must be an RSA private key (tokens are signed with RS256)."),
    ],
)
def test_issue_token_without_a_usable_key_fails_with_one_sentence(keyring, key, kid, message):
    if key == "ec":
        key = _private_pem(ec.generate_private_key(ec.SECP256R1()))
    keyring.JWT_SIGNING_KEY, keyring.JWT_SIGNING_KID = key, kid
    with pytest.raises(CommandError) as info:
        run_issue_token("--tenant", str(TENANT))
    assert str(info.value) == message
    assert info.value.returncode == 1


def test_dev_env_keys_survive_bash_and_production_settings(tmp_path, settings, committed_db):
    """`make run` sources .dev/env with bash; issue_token under the production settings must
    mint a token that the generated key ring verifies (for a tenant that exists: the test
    database's, committed)."""
    tenant_create(name="dev-env", tenant_id=TENANT)
    env_file, ring_file = tmp_path / "env", tmp_path / "ring.json"
    subprocess.run([sys.executable, "scripts/dev_env.py", str(env_file)], cwd=ROOT, check=True)
    database = settings.DATABASES["default"]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "JWT_")) and k not in ("SECRET_KEY", "CREDENTIAL_ENCRYPTION_KEYS")
    }
    env["DATABASE_URL"] = f"postgres://{database['USER']}@/{database['NAME']}"
    script = (
        f'set -a; . "{env_file}"; set +a; printf "%s" "$JWT_PUBLIC_KEYS" > "{ring_file}"; '
        f'"{sys.executable}" manage.py issue_token --tenant {TENANT} --scopes viewer'
    )
    bash = shutil.which("bash") or "/bin/bash"
    result = subprocess.run(  # noqa: S603  (our own script and paths)
        [bash, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert "PRIVATE KEY" not in result.stdout + result.stderr

    settings.JWT_PUBLIC_KEYS = json.loads(ring_file.read_text())
    settings.JWT_JWKS_URL, settings.JWT_ISSUER, settings.JWT_AUDIENCE = "", "", ""
    settings.JWT_ALGORITHMS = ["RS256"]
    assert list(settings.JWT_PUBLIC_KEYS) == ["dev-1"]
    _, (principal, _) = authenticate(f"Bearer {token}")
    assert (principal.tenant_id, principal.scopes) == (TENANT, frozenset({"viewer"}))
