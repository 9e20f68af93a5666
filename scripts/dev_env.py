"""Write the development environment file (.dev/env, git-ignored) with generated secrets.

`make run` calls it every time: variables already in the file are kept (so the demo's
encrypted credentials stay readable across runs) and only missing ones are added. It is
read with `set -a; . .dev/env; set +a`, so every value is single-quoted for bash: a PEM
keeps its real newlines inside the quotes, while JSON carries them escaped (`\\n`).
"""

import json
import os
import re
import secrets
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SIMULATOR = "http://127.0.0.1:8100"
# Each platform's API base (and the token, authorization and revocation endpoints the demo's
# OAuth apps use), as paths on the simulator.
SIMULATED_PLATFORM_URLS = {
    "STRIPE_API_BASE_URL": "",
    "SHOPIFY_API_BASE_URL": "",
    "PAYPAL_API_BASE_URL": "",
    "WOOCOMMERCE_API_BASE_URL": "",
    "GOOGLE_ADS_API_BASE_URL": "",
    "META_API_BASE_URL": "",
    "GOOGLE_OAUTH_TOKEN_URL": "/token",
    "GOOGLE_OAUTH_AUTHORIZE_URL": "/o/oauth2/v2/auth",
    "GOOGLE_OAUTH_REVOKE_URL": "/revoke",
    "STRIPE_OAUTH_AUTHORIZE_URL": "/oauth/authorize",
    "STRIPE_OAUTH_TOKEN_URL": "/oauth/token",
    "STRIPE_OAUTH_DEAUTHORIZE_URL": "/oauth/deauthorize",
    "META_OAUTH_AUTHORIZE_URL": "/v27.0/dialog/oauth",
}


def generated() -> dict[str, str]:
    """Each variable's line(s), freshly generated."""
    lines = {}
    lines["SECRET_KEY"] = f"SECRET_KEY={secrets.token_urlsafe(50)}"
    ring = {"current": "dev-1", "keys": {"dev-1": secrets.token_urlsafe(32)}}
    lines["CREDENTIAL_ENCRYPTION_KEYS"] = f"CREDENTIAL_ENCRYPTION_KEYS='{json.dumps(ring)}'"
    lines["ALLOWED_HOSTS"] = "ALLOWED_HOSTS=127.0.0.1,localhost"
    # Every platform at the local simulator: a command run by hand with this file
    # (`set -a; . .dev/env; set +a; manage.py refresh_revenue`) sends the demo's tokens to it,
    # never to a real platform. `make run` starts the simulator on this port.
    for name in SIMULATED_PLATFORM_URLS:
        lines[name] = f"{name}={SIMULATOR}{SIMULATED_PLATFORM_URLS[name]}"
    # The demo's operator (`manage.py create_operator --username operator`) logs in to the admin with it.
    lines["DEMO_OPERATOR_PASSWORD"] = f"DEMO_OPERATOR_PASSWORD={secrets.token_urlsafe(18)}"
    # The API's bearer tokens (`manage.py issue_token`): an RSA key pair, the public half in the key ring.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    # The three JWT values belong together: written (or kept) as one.
    lines["JWT_SIGNING_KEY"] = "\n".join(
        [
            "JWT_SIGNING_KID=dev-1",
            f"JWT_SIGNING_KEY='{private_pem.strip()}'",
            f"JWT_PUBLIC_KEYS='{json.dumps({'dev-1': public_pem})}'",
        ]
    )
    return lines


def main(path: Path) -> None:
    existing = path.read_text() if path.exists() else ""
    present = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", existing, flags=re.MULTILINE))
    missing = [text for name, text in generated().items() if name not in present]
    if missing:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created readable by its owner only (private keys, the key ring, passwords)...
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "a") as out:
            if existing and not existing.endswith("\n"):
                out.write("\n")
            out.write("\n".join(missing) + "\n")
    # ...and one an earlier version left world-readable is closed too.
    if path.exists():
        path.chmod(0o600)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
