"""Print a development environment file with freshly generated secrets.

`make run` writes it once to .dev/env (git-ignored) and reuses it afterwards, so the
demo's encrypted credentials stay readable across runs.
"""

import json
import secrets

print(f"SECRET_KEY={secrets.token_urlsafe(50)}")
ring = {"current": "dev-1", "keys": {"dev-1": secrets.token_urlsafe(32)}}
print(f"CREDENTIAL_ENCRYPTION_KEYS='{json.dumps(ring)}'")
print("ALLOWED_HOSTS=127.0.0.1,localhost")
