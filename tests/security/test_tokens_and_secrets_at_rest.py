"""Tokens that live too long, tokens for tenants that do not exist, and the development
secrets file: each replayed as the attack found it, each refused."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command

from tests.factories import make_tenant

ROOT = Path(__file__).resolve().parents[2]
V1 = "/api/v1/revenue/realtime"


def test_a_token_living_31_years_is_refused_over_http(live_url, mint):
    tenant = make_tenant("security-lifetime")
    now = int(time.time())
    token = mint(tenant.id, iat=now, exp=now + 31 * 365 * 86400)
    answer = requests.get(
        f"{live_url}{V1}",
        headers={"Authorization": f"Bearer {token}", "X-Correlation-ID": str(uuid.uuid4())},
        timeout=10,
    )
    assert answer.status_code == 401
    assert answer.json()["code"] == "claims_invalid"
    assert "longer than 86400 seconds" in answer.json()["detail"]


def test_a_token_within_the_lifetime_is_accepted(live_url, mint, settings):
    tenant = make_tenant("security-lifetime-ok")
    now = int(time.time())
    token = mint(tenant.id, iat=now, exp=now + settings.JWT_MAX_LIFETIME_SECONDS)
    answer = requests.get(
        f"{live_url}{V1}",
        headers={"Authorization": f"Bearer {token}", "X-Correlation-ID": str(uuid.uuid4())},
        timeout=10,
    )
    assert answer.status_code == 200


def test_issue_token_refuses_a_tenant_that_does_not_exist(db, settings, rsa_key):
    from cryptography.hazmat.primitives import serialization

    settings.JWT_SIGNING_KEY = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    settings.JWT_SIGNING_KID = "security-kid"
    stranger = uuid.uuid4()
    out = io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("issue_token", "--tenant", str(stranger), stdout=out, stderr=io.StringIO())
    assert refused.value.returncode == 2
    assert str(refused.value) == f"No tenant with id {stranger}."
    assert out.getvalue() == ""  # nothing minted reaches stdout


def test_the_development_secrets_file_is_readable_by_its_owner_only(tmp_path):
    fresh, old = tmp_path / "fresh" / "env", tmp_path / "old-env"
    old.write_text("SECRET_KEY=kept\n")
    old.chmod(0o644)  # as an earlier version left it
    for path in (fresh, old):
        subprocess.run([sys.executable, "scripts/dev_env.py", str(path)], cwd=ROOT, check=True)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    assert "SECRET_KEY=kept\n" in old.read_text()
