"""`make run`'s development environment file keeps what it has and adds what it lacks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_existing_values_are_kept_and_missing_ones_added(tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text(
        'CREDENTIAL_ENCRYPTION_KEYS=\'{"current": "old", "keys": {"old": "kept-secret-0123456789"}}\'\n'
    )
    for _ in range(2):
        subprocess.run([sys.executable, "scripts/dev_env.py", str(env_file)], cwd=ROOT, check=True)
    text = env_file.read_text()
    assert "kept-secret-0123456789" in text
    for name in ("SECRET_KEY", "CREDENTIAL_ENCRYPTION_KEYS", "JWT_SIGNING_KEY", "JWT_SIGNING_KID", "JWT_PUBLIC_KEYS"):
        assert text.count(f"\n{name}=") + text.startswith(f"{name}=") == 1, name


def test_the_development_file_points_every_platform_at_the_local_simulator(tmp_path):
    """A command run by hand with .dev/env must never send the demo's tokens to a real platform."""
    env_file = tmp_path / "env"
    subprocess.run([sys.executable, "scripts/dev_env.py", str(env_file)], cwd=ROOT, check=True)
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line and line[0].isupper())
    settings_text = (ROOT / "skeldir" / "settings.py").read_text()
    platform_urls = {name for name in re.findall(r'"([A-Z_]+_(?:API_BASE_URL|OAUTH_[A-Z]+_URL))"', settings_text)}
    platform_urls -= {"SHOPIFY_OAUTH_BASE_URL", "META_OAUTH_BASE_URL"}  # default to the API bases above
    assert platform_urls and platform_urls <= set(values), sorted(platform_urls - set(values))
    for name in platform_urls:
        assert values[name].startswith("http://127.0.0.1:8100"), name
