"""The example reverse proxy the README requires in front of gunicorn: nginx itself checks
the file (`nginx -t`, with a throwaway certificate in place of the real one), and the
settings that make it a *buffering* proxy with short client timeouts are there."""

from __future__ import annotations

import datetime
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "api.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (.ci/run installs it)")
def test_nginx_accepts_the_example_configuration(tmp_path):
    cert, key = _self_signed(tmp_path)
    text = CONFIG.read_text()
    text = text.replace("/etc/skeldir/tls/fullchain.pem", str(cert)).replace("/etc/skeldir/tls/privkey.pem", str(key))
    config = tmp_path / "nginx.conf"
    config.write_text(text)
    result = subprocess.run(
        ["nginx", "-t", "-c", str(config), "-p", str(tmp_path), "-g", f"pid {tmp_path}/nginx.pid; error_log stderr;"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_the_example_buffers_and_cuts_slow_clients_off():
    text = CONFIG.read_text()
    directives = dict(re.findall(r"^\s*([a-z_]+)\s+([^;{]+);", text, flags=re.MULTILINE))
    assert directives["proxy_buffering"] == "on" and directives["proxy_request_buffering"] == "on"
    for timeout in ("client_header_timeout", "client_body_timeout", "send_timeout"):
        assert int(directives[timeout].rstrip("s")) <= 30, timeout
    assert int(directives["client_max_body_size"].rstrip("k")) * 1024 == settings.API_MAX_BODY_BYTES
    assert "127.0.0.1:8000" in text  # gunicorn's default BIND
