"""`make run`'s development environment file keeps what it has and adds what it lacks."""

from __future__ import annotations

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
