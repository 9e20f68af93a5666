"""Settings, read from the environment (and an optional, never committed `.env`).

Every variable is listed in README.md. A required one that is missing stops startup
with one sentence naming it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")


def _required(name: str, why: str) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"Set the {name} environment variable ({why}).")
    return value


DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or (
    "insecure-development-only-key" if DEBUG else _required("SECRET_KEY", "required when DJANGO_DEBUG is off")
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "skeldir",
    "connections",
    "providers",
    "revenue",
]

MIDDLEWARE = [
    "skeldir.correlation.CorrelationIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "skeldir.urls"
WSGI_APPLICATION = "skeldir.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# --- Database -------------------------------------------------------------------------
# Two connections to the same database, as two roles (DESIGN.md §4):
#   default: the runtime role (DATABASE_URL). Not a superuser, not BYPASSRLS, owns nothing,
#            so row-level security applies to everything the API and the refresher do.
#   owner:   the schema owner (DATABASE_OWNER_URL). Used only by `migrate`.
# Both default to the local server's socket, database `skeldir` (see `make db`).
DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://skeldir_app@/skeldir"),
    "owner": env.db("DATABASE_OWNER_URL", default="postgres://skeldir_owner@/skeldir"),
}
for _alias, _db in DATABASES.items():
    if _db["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            f"{'DATABASE_URL' if _alias == 'default' else 'DATABASE_OWNER_URL'} must point at PostgreSQL "
            "(row-level security, advisory locks and pgcrypto are required)."
        )
    _db.setdefault("OPTIONS", {})
    _db["OPTIONS"].setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5))
    _db["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    _db["CONN_HEALTH_CHECKS"] = True
DATABASES["owner"]["CONN_MAX_AGE"] = 0
DATABASE_ROUTERS = ["skeldir.routers.MigrationsAsOwnerRouter"]
# The role row-level security is enforced on; migrations create it if missing and grant it DML.
DATABASE_RUNTIME_ROLE = env.str("DATABASE_RUNTIME_ROLE", default=DATABASES["default"].get("USER") or "skeldir_app")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Credential encryption ----------------------------------------------------------------
# JSON: {"current": "<key id>", "keys": {"<key id>": "<secret>", ...}}. Writes use the current
# key, reads use the key id stored on the row; `rotate_credential_key` moves old rows.


def _credential_key_ring() -> dict[str, Any]:
    raw = env.str("CREDENTIAL_ENCRYPTION_KEYS", default="")
    if not raw:
        raise ImproperlyConfigured(
            "Set the CREDENTIAL_ENCRYPTION_KEYS environment variable "
            '(JSON {"current": "<key id>", "keys": {"<key id>": "<secret>"}}).'
        )
    try:
        ring = json.loads(raw)
        current, keys = ring["current"], ring["keys"]
    except (ValueError, TypeError, KeyError):
        raise ImproperlyConfigured(
            'CREDENTIAL_ENCRYPTION_KEYS must be JSON {"current": "<key id>", "keys": {"<key id>": "<secret>"}}.'
        ) from None
    if not isinstance(keys, dict) or current not in keys or not all(
        isinstance(k, str) and isinstance(v, str) and len(v) >= 16 for k, v in keys.items()
    ):
        raise ImproperlyConfigured(
            "CREDENTIAL_ENCRYPTION_KEYS must name its current key among its keys, each a string of 16+ characters."
        )
    return {"current": current, "keys": keys}


CREDENTIAL_ENCRYPTION_KEYS = _credential_key_ring()
CREDENTIAL_ROTATION_BATCH_SIZE = env.int("CREDENTIAL_ROTATION_BATCH_SIZE", default=500)
# Refresh expiring tokens this long before they expire.
CREDENTIAL_REFRESH_LEAD_SECONDS = env.int("CREDENTIAL_REFRESH_LEAD_SECONDS", default=300)

# --- Revenue cache (DESIGN.md §7) -------------------------------------------------------
REVENUE_CACHE_TTL_SECONDS = env.int("REVENUE_CACHE_TTL_SECONDS", default=30)
REVENUE_ERROR_COOLDOWN_SECONDS = env.int("REVENUE_ERROR_COOLDOWN_SECONDS", default=10)
REVENUE_SINGLEFLIGHT_WAIT_SECONDS = env.float("REVENUE_SINGLEFLIGHT_WAIT_SECONDS", default=5.0)
REVENUE_REFRESH_AHEAD_SECONDS = env.int("REVENUE_REFRESH_AHEAD_SECONDS", default=10)
REVENUE_STALE_IF_ERROR_SECONDS = env.int("REVENUE_STALE_IF_ERROR_SECONDS", default=0)
REVENUE_TENANT_DEADLINE_SECONDS = env.float("REVENUE_TENANT_DEADLINE_SECONDS", default=20.0)
# Threads calling platforms, shared by all refreshes of a process (adapters do I/O only).
REVENUE_FETCH_WORKERS = env.int("REVENUE_FETCH_WORKERS", default=32)

# --- Providers (DESIGN.md §6) -------------------------------------------------------------
PROVIDER_HTTP = {
    "connect_timeout": env.float("PROVIDER_CONNECT_TIMEOUT_SECONDS", default=3.05),
    "read_timeout": env.float("PROVIDER_READ_TIMEOUT_SECONDS", default=10.0),
    "retries": env.int("PROVIDER_HTTP_RETRIES", default=2),
    "backoff_factor": env.float("PROVIDER_HTTP_BACKOFF_FACTOR", default=0.25),
    "backoff_jitter": env.float("PROVIDER_HTTP_BACKOFF_JITTER", default=0.25),
    "max_response_bytes": env.int("PROVIDER_MAX_RESPONSE_BYTES", default=10 * 1024 * 1024),
}

REVENUE_PROVIDERS: dict[str, dict[str, Any]] = {
    "stripe": {
        "CLASS": "providers.stripe.StripeProvider",
        "OPTIONS": {"base_url": env.str("STRIPE_API_BASE_URL", default="https://api.stripe.com")},
    },
    "shopify": {
        "CLASS": "providers.shopify.ShopifyProvider",
        "OPTIONS": {"base_url": env.str("SHOPIFY_API_BASE_URL", default="")},
    },
    "paypal": {
        "CLASS": "providers.paypal.PayPalProvider",
        "OPTIONS": {"base_url": env.str("PAYPAL_API_BASE_URL", default="https://api-m.paypal.com")},
    },
    "woocommerce": {
        "CLASS": "providers.woocommerce.WooCommerceProvider",
        "OPTIONS": {"base_url": env.str("WOOCOMMERCE_API_BASE_URL", default="")},
    },
    "google_ads": {
        "CLASS": "providers.google_ads.GoogleAdsProvider",
        "OPTIONS": {
            "base_url": env.str("GOOGLE_ADS_API_BASE_URL", default="https://googleads.googleapis.com"),
            "token_url": env.str("GOOGLE_OAUTH_TOKEN_URL", default="https://oauth2.googleapis.com/token"),
            "developer_token": env.str("GOOGLE_ADS_DEVELOPER_TOKEN", default=""),
            "client_id": env.str("GOOGLE_OAUTH_CLIENT_ID", default=""),
            "client_secret": env.str("GOOGLE_OAUTH_CLIENT_SECRET", default=""),
        },
    },
    "meta_ads": {
        "CLASS": "providers.meta_ads.MetaAdsProvider",
        "OPTIONS": {"base_url": env.str("META_API_BASE_URL", default="https://graph.facebook.com")},
    },
}

# --- API authentication (DESIGN.md §8) --------------------------------------------------
# Verification keys: a key ring {kid: public key PEM} and/or a JWKS URL. Algorithms are
# fixed here, never taken from a token.
JWT_PUBLIC_KEYS = env.json("JWT_PUBLIC_KEYS", default={})
JWT_JWKS_URL = env.str("JWT_JWKS_URL", default="")
JWT_JWKS_CACHE_SECONDS = env.int("JWT_JWKS_CACHE_SECONDS", default=300)
JWT_ALGORITHMS = env.list("JWT_ALGORITHMS", default=["RS256"])
JWT_ISSUER = env.str("JWT_ISSUER", default="")
JWT_AUDIENCE = env.str("JWT_AUDIENCE", default="")
JWT_LEEWAY_SECONDS = env.int("JWT_LEEWAY_SECONDS", default=30)
# Minting (`manage.py issue_token`, the demo): a private key PEM and its kid.
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default="", multiline=True)
JWT_SIGNING_KID = env.str("JWT_SIGNING_KID", default="")

PROBLEM_TYPE_BASE = env.str("PROBLEM_TYPE_BASE", default="https://api.skeldir.com/problems/")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["skeldir.auth.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["skeldir.auth.IsAuthenticatedPrincipal"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "skeldir.problems.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Skeldir Revenue API",
    "DESCRIPTION": "Realtime revenue of a tenant's connected platforms (cached, per-tenant, unverified).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
}

ADMIN_URL = env.str("ADMIN_URL", default="admin/")

# --- Internationalisation, static ---------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".dev" / "static"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
