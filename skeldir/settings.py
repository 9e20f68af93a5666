"""Settings, read from the environment (and an optional, never committed `.env`).

Every variable is listed in README.md. A required one that is missing stops startup
with one sentence naming it.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
    "skeldir.apps.OperatorAdminConfig",  # django.contrib.admin with the operators' site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # ReDoc's files served from here: /api/docs/ works offline and under a CSP
    "corsheaders",
    "axes",  # admin login throttling and lockout
    "skeldir",
    "connections",
    "providers",
    "revenue",
]

MIDDLEWARE = [
    "skeldir.correlation.CorrelationIdMiddleware",
    "skeldir.observability.RequestObservabilityMiddleware",
    # Before anything that could refuse the request: a browser's CORS preflight carries no
    # bearer token or correlation id, and is answered here.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout answer.
    "axes.middleware.AxesMiddleware",
]

# Admin logins: django-axes counts failures per user name and client address together and
# locks that pair out for a while after AXES_FAILURE_LIMIT of them (a lockout is logged as
# `admin_login_locked_out`, see skeldir.admin_site). A success resets the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(seconds=env.int("ADMIN_LOGIN_LOCKOUT_SECONDS", default=900))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # no start-up banner on every command's stderr
AXES_LOCKOUT_CALLABLE = "skeldir.admin_site.login_locked_out"
# The client address is REMOTE_ADDR (a forwarded header could be forged to dodge the count);
# behind a proxy every client shares its address, so the lockout is then per user name.


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
# Four connections to the same database, as four roles (DESIGN.md §4):
#   default: the runtime role (DATABASE_URL). Not a superuser, not BYPASSRLS, owns nothing,
#            so row-level security applies to everything the API and the refresher do.
#   owner:   the schema owner (DATABASE_OWNER_URL). Used only by `migrate`.
#   operator: the operators' cross-tenant role (DATABASE_OPERATOR_URL): BYPASSRLS, owns
#            nothing, may read the tenant tables (never the encrypted tokens) and update the
#            few columns the admin actions touch. Used only by the admin site and the
#            scrape-time gauges of /metrics, and only inside skeldir.operator.operator_access().
#   admin:   the admin's accounts (DATABASE_ADMIN_URL): Django's users, groups, permissions,
#            content types, sessions and admin history, and django-axes' login records
#            (skeldir.routers.AdminAccountsRouter sends those apps' models there). Not
#            BYPASSRLS, no tenant table: the login path never holds a role that sees tenants,
#            and the runtime role may not touch these tables (skeldir/migrations/0003).
# All default to the local server's socket, database `skeldir` (see `make db`).
DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://skeldir_app@/skeldir"),
    "owner": env.db("DATABASE_OWNER_URL", default="postgres://skeldir_owner@/skeldir"),
    "operator": env.db("DATABASE_OPERATOR_URL", default="postgres://skeldir_operator@/skeldir"),
    "admin": env.db("DATABASE_ADMIN_URL", default="postgres://skeldir_admin@/skeldir"),
}
_DATABASE_VARIABLES = {
    "default": "DATABASE_URL",
    "owner": "DATABASE_OWNER_URL",
    "operator": "DATABASE_OPERATOR_URL",
    "admin": "DATABASE_ADMIN_URL",
}
for _alias, _db in DATABASES.items():
    if _db["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            f"{_DATABASE_VARIABLES.get(_alias, _alias)} must point at PostgreSQL "
            "(row-level security, advisory locks and pgcrypto are required)."
        )
    _db.setdefault("OPTIONS", {})
    _db["OPTIONS"].setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5))
    _db["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    _db["CONN_HEALTH_CHECKS"] = True
# The runtime role binds parameters server-side: values (the credential key given to
# pgcrypto among them) travel apart from the statement text, so they never show in
# pg_stat_activity or a logged statement, and psycopg prepares the statements a refresh
# or a request repeats (after 5 uses) so the server stops re-planning them.
DATABASES["default"]["OPTIONS"].setdefault("server_side_binding", True)
DATABASES["owner"]["CONN_MAX_AGE"] = 0
DATABASES["operator"]["CONN_MAX_AGE"] = 0  # admin pages and scrapes are rare: no idle connections per thread
DATABASES["admin"]["CONN_MAX_AGE"] = 0  # likewise
DATABASE_ROUTERS = ["skeldir.routers.AdminAccountsRouter", "skeldir.routers.MigrationsAsOwnerRouter"]
# The role row-level security is enforced on; migrations create it if missing and grant it DML.
DATABASE_RUNTIME_ROLE = env.str("DATABASE_RUNTIME_ROLE", default=DATABASES["default"].get("USER") or "skeldir_app")
# The role migrations grant the operators' reads and updates to (created by `make db`, as
# BYPASSRLS needs a superuser). Empty: no grants, and no admin.
DATABASE_OPERATOR_ROLE = env.str(
    "DATABASE_OPERATOR_ROLE", default=DATABASES["operator"].get("USER") or "skeldir_operator"
)
# The role migrations create (if missing) and grant the admin's account tables to; the
# runtime role loses every privilege on them.
DATABASE_ADMIN_ROLE = env.str("DATABASE_ADMIN_ROLE", default=DATABASES["admin"].get("USER") or "skeldir_admin")

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
    if (
        not isinstance(keys, dict)
        or current not in keys
        or not all(isinstance(k, str) and isinstance(v, str) and len(v) >= 32 for k, v in keys.items())
    ):
        raise ImproperlyConfigured(
            "CREDENTIAL_ENCRYPTION_KEYS must name its current key among its keys, "
            "each a random string of 32+ characters."
        )
    return {"current": current, "keys": keys}


CREDENTIAL_ENCRYPTION_KEYS = _credential_key_ring()
CREDENTIAL_ROTATION_BATCH_SIZE = env.int("CREDENTIAL_ROTATION_BATCH_SIZE", default=500)
# Refresh expiring tokens this long before they expire.
CREDENTIAL_REFRESH_LEAD_SECONDS = env.int("CREDENTIAL_REFRESH_LEAD_SECONDS", default=300)

# --- Revenue cache (DESIGN.md §7) -------------------------------------------------------
REVENUE_CACHE_TTL_SECONDS = env.int("REVENUE_CACHE_TTL_SECONDS", default=30)
REVENUE_ERROR_COOLDOWN_SECONDS = env.int("REVENUE_ERROR_COOLDOWN_SECONDS", default=10)
REVENUE_REFRESH_AHEAD_SECONDS = env.int("REVENUE_REFRESH_AHEAD_SECONDS", default=10)
# The last good snapshot is served (marked stale) this long past its expiry while refreshes
# fail; 0 turns it off.
REVENUE_STALE_IF_ERROR_SECONDS = env.int("REVENUE_STALE_IF_ERROR_SECONDS", default=900)
REVENUE_TENANT_DEADLINE_SECONDS = env.float("REVENUE_TENANT_DEADLINE_SECONDS", default=20.0)
# A request waits this long for another's refresh: the leader's deadline and the time to
# read and store around it (a system check refuses less than the deadline).
REVENUE_SINGLEFLIGHT_WAIT_SECONDS = env.float(
    "REVENUE_SINGLEFLIGHT_WAIT_SECONDS", default=REVENUE_TENANT_DEADLINE_SECONDS + 5.0
)
# A platform that refuses a credential's permission (HTTP 403) is asked again after this
# long, or as soon as the credential changes; a refused credential (401) only then.
REVENUE_FORBIDDEN_RECHECK_SECONDS = env.int("REVENUE_FORBIDDEN_RECHECK_SECONDS", default=3600)
# Fresh snapshots remembered per process, so a cache hit needs no database round trip;
# never served past their expiry (0 turns it off).
REVENUE_MEMO_SIZE = env.int("REVENUE_MEMO_SIZE", default=5_000)
# Threads calling platforms, shared by all refreshes of a process (adapters do I/O only).
REVENUE_FETCH_WORKERS = env.int("REVENUE_FETCH_WORKERS", default=32)
# Processes `refresh_revenue` splits a cycle over: a refresher is bound by its interpreter
# lock at about one core, so by default one process per CPU it may use (0; skeldir.cpus).
REVENUE_REFRESH_PROCESSES = env.int("REVENUE_REFRESH_PROCESSES", default=0)
if REVENUE_REFRESH_PROCESSES < 0:
    raise ImproperlyConfigured("REVENUE_REFRESH_PROCESSES must be 0 (one per CPU) or a number of processes.")

# --- Providers (DESIGN.md §6) -------------------------------------------------------------
PROVIDER_HTTP = {
    "connect_timeout": env.float("PROVIDER_CONNECT_TIMEOUT_SECONDS", default=3.05),
    "read_timeout": env.float("PROVIDER_READ_TIMEOUT_SECONDS", default=10.0),
    "retries": env.int("PROVIDER_HTTP_RETRIES", default=2),
    "backoff_factor": env.float("PROVIDER_HTTP_BACKOFF_FACTOR", default=0.25),
    "backoff_jitter": env.float("PROVIDER_HTTP_BACKOFF_JITTER", default=0.25),
    "max_response_bytes": env.int("PROVIDER_MAX_RESPONSE_BYTES", default=10 * 1024 * 1024),
}

# Hosts a tenant chooses (a WooCommerce store) are called on https port 443 only; these
# host:port entries (comma-separated, e.g. a staging store on 8443) may use another port.
# Their addresses are still checked (providers/outbound.py).
PROVIDER_OUTBOUND_ALLOWED = env.list("PROVIDER_OUTBOUND_ALLOWED", default=[])

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

# --- Connecting accounts: OAuth install flows (connections/oauth/) ---------------------------
# App credentials come from the environment; a platform without them answers `start` with
# 503 oauth_unavailable. Endpoints default to the platforms' and are overridable like the
# API base URLs (the local simulator in the demo and tests).
OAUTH_STATE_TTL_SECONDS = env.int("OAUTH_STATE_TTL_SECONDS", default=600)
# The public base of the callback URLs registered with the platforms (e.g.
# https://api.skeldir.com). Required (checked below) once an OAuth app is configured,
# unless DJANGO_DEBUG: the callback URL is never taken from a request's Host or forwarded
# headers, which the client chooses. Empty in debug: the host the `start` request came to.
OAUTH_REDIRECT_BASE_URL = env.str("OAUTH_REDIRECT_BASE_URL", default="")
# Where the merchant's browser lands after the callback, to confirm the install (query:
# status=confirmation_required, platform, confirmation; or status=error and the error
# code; never a token). Empty: the callback answers itself.
OAUTH_SUCCESS_URL = env.str("OAUTH_SUCCESS_URL", default="")
OAUTH_FAILURE_URL = env.str("OAUTH_FAILURE_URL", default="")
CONNECTIONS_OAUTH: dict[str, dict[str, Any]] = {
    "stripe": {
        "CLASS": "connections.oauth.stripe.StripeOAuth",
        "OPTIONS": {
            "client_id": env.str("STRIPE_OAUTH_CLIENT_ID", default=""),  # ca_…
            "client_secret": env.str("STRIPE_OAUTH_CLIENT_SECRET", default=""),  # the platform's secret key
            "authorize_url": env.str(
                "STRIPE_OAUTH_AUTHORIZE_URL", default="https://connect.stripe.com/oauth/authorize"
            ),
            "token_url": env.str("STRIPE_OAUTH_TOKEN_URL", default="https://connect.stripe.com/oauth/token"),
            "revoke_url": env.str(
                "STRIPE_OAUTH_DEAUTHORIZE_URL", default="https://connect.stripe.com/oauth/deauthorize"
            ),
        },
    },
    "shopify": {
        "CLASS": "connections.oauth.shopify.ShopifyOAuth",
        "OPTIONS": {
            "client_id": env.str("SHOPIFY_OAUTH_CLIENT_ID", default=""),
            "client_secret": env.str("SHOPIFY_OAUTH_CLIENT_SECRET", default=""),
            # Empty: the shop's own https://<shop>.myshopify.com, as Shopify requires.
            "base_url": env.str("SHOPIFY_OAUTH_BASE_URL", default=env.str("SHOPIFY_API_BASE_URL", default="")),
        },
    },
    "google_ads": {
        "CLASS": "connections.oauth.google_ads.GoogleAdsOAuth",
        "OPTIONS": {
            "client_id": env.str("GOOGLE_OAUTH_CLIENT_ID", default=""),
            "client_secret": env.str("GOOGLE_OAUTH_CLIENT_SECRET", default=""),
            "authorize_url": env.str(
                "GOOGLE_OAUTH_AUTHORIZE_URL", default="https://accounts.google.com/o/oauth2/v2/auth"
            ),
            "token_url": env.str("GOOGLE_OAUTH_TOKEN_URL", default="https://oauth2.googleapis.com/token"),
            "revoke_url": env.str("GOOGLE_OAUTH_REVOKE_URL", default="https://oauth2.googleapis.com/revoke"),
        },
    },
    "meta_ads": {
        "CLASS": "connections.oauth.meta_ads.MetaAdsOAuth",
        "OPTIONS": {
            "client_id": env.str("META_OAUTH_CLIENT_ID", default=""),  # the app id
            "client_secret": env.str("META_OAUTH_CLIENT_SECRET", default=""),  # the app secret
            "authorize_url": env.str("META_OAUTH_AUTHORIZE_URL", default="https://www.facebook.com/v27.0/dialog/oauth"),
            # Token exchange and permission removal are Graph API calls.
            "base_url": env.str(
                "META_OAUTH_BASE_URL", default=env.str("META_API_BASE_URL", default="https://graph.facebook.com")
            ),
        },
    },
}

_oauth_apps = [
    k for k, conf in CONNECTIONS_OAUTH.items() if conf["OPTIONS"]["client_id"] and conf["OPTIONS"]["client_secret"]
]
if _oauth_apps and not DEBUG and not OAUTH_REDIRECT_BASE_URL:
    _required(
        "OAUTH_REDIRECT_BASE_URL",
        f"the public base of the OAuth callback URLs, e.g. https://api.skeldir.com; required when DJANGO_DEBUG "
        f"is off and an OAuth app is configured ({', '.join(_oauth_apps)})",
    )
if OAUTH_REDIRECT_BASE_URL:
    _base = urlsplit(OAUTH_REDIRECT_BASE_URL)
    if _base.scheme not in ("http", "https") or not _base.hostname or _base.query or _base.fragment:
        raise ImproperlyConfigured(
            "OAUTH_REDIRECT_BASE_URL must be an absolute http(s) URL without query or fragment "
            "(e.g. https://api.skeldir.com)."
        )

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
# Tokens living longer than this (exp - iat) are refused, however well signed.
JWT_MAX_LIFETIME_SECONDS = env.int("JWT_MAX_LIFETIME_SECONDS", default=24 * 3600)
# Tokens that verified are remembered per process until they expire (0 turns it off).
JWT_VERIFIED_TOKENS_MEMO_SIZE = env.int("JWT_VERIFIED_TOKENS_MEMO_SIZE", default=10_000)
# Minting (`manage.py issue_token`, the demo): a private key PEM and its kid.
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default="", multiline=True)
JWT_SIGNING_KID = env.str("JWT_SIGNING_KID", default="")

PROBLEM_TYPE_BASE = env.str("PROBLEM_TYPE_BASE", default="https://api.skeldir.com/problems/")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["skeldir.auth.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["skeldir.auth.IsAuthenticatedPrincipal"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["skeldir.parsers.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "skeldir.problems.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

# The shared cache: rate-limit counters (skeldir.throttling) must be one budget for every
# worker and machine, so the default is a table in the service's database (created by a
# migration); `locmemcache://` for a single process, `rediscache://…` with redis-py installed.
CACHES = {"default": env.cache_url("CACHE_URL", default="dbcache://skeldir_cache")}
# Connecting keys and starting an OAuth install make us call a platform: per tenant and per
# user, DRF's "N/second|minute|hour|day"; empty turns the limit off.
THROTTLE_TENANT_RATE = env.str("THROTTLE_TENANT_RATE", default="60/minute")
THROTTLE_USER_RATE = env.str("THROTTLE_USER_RATE", default="20/minute")

# Browser dashboards on other origins (django-cors-headers), for the API only; bearer tokens,
# never cookies, so no credentials mode.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
# With no origin allowed the middleware stays out of the way entirely (no `Vary: Origin`).
CORS_URLS_REGEX = r"^/api/.*$" if CORS_ALLOWED_ORIGINS else r"(?!)"
CORS_ALLOW_HEADERS = ["authorization", "content-type", "if-none-match", "x-correlation-id"]
CORS_EXPOSE_HEADERS = ["ETag", "Retry-After", "X-Correlation-ID"]
CORS_PREFLIGHT_MAX_AGE = 600

SPECTACULAR_SETTINGS = {
    "TITLE": "Skeldir Revenue API",
    "DESCRIPTION": "Realtime revenue of a tenant's connected platforms (cached, per-tenant, unverified).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "REDOC_DIST": "SIDECAR",
}

# API request bodies: larger is a 413, deeper nesting a 400 (skeldir.parsers).
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=64 * 1024)
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=32)

ADMIN_URL = env.str("ADMIN_URL", default="admin/")
# "Refresh now" in the admin refreshes at most this many tenants per action.
ADMIN_REFRESH_MAX_TENANTS = env.int("ADMIN_REFRESH_MAX_TENANTS", default=20)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Admin sessions and transport security (secure unless DJANGO_DEBUG) ---------------------
# TLS is expected to end in front of the service: set SECURE_PROXY_SSL_HEADER to the header
# the proxy sets (e.g. HTTP_X_FORWARDED_PROTO) so Django knows a request came over https.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
_proxy_ssl_header = env.str("SECURE_PROXY_SSL_HEADER", default="")
SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header, "https") if _proxy_ssl_header else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Metrics (/metrics) -------------------------------------------------------------------
# Set: scrapes need `Authorization: Bearer <METRICS_TOKEN>`. Empty: loopback clients only.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- Internationalisation, static ---------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / ".dev" / "static")
# The admin's CSS and JS, served by WhiteNoise from STATIC_ROOT (`manage.py collectstatic`),
# compressed and with hashed names so they can be cached for ever.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Structured logs (skeldir/logging.py): JSON lines unless LOG_FORMAT=text (the default with
# DJANGO_DEBUG). Every record passes the context filter (correlation id, tenant) and the
# redaction filter (no token or key value survives) before it is written.
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured("LOG_FORMAT must be json or text.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "skeldir.logging.ContextFilter"},
        "redact": {"()": "skeldir.logging.RedactSecretsFilter"},
    },
    "formatters": {
        "json": {"()": "skeldir.logging.JsonFormatter"},
        "text": {"()": "skeldir.logging.TextFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context", "redact"]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Django's own loggers go through the same handler (its default debug console handler
    # would print tracebacks unfiltered).
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
        # Every request is already logged as `request_served` with its status; Django's own
        # "Not Found"/"Bad Request" warnings would repeat the 4xx. Server errors still come.
        "django.request": {"handlers": [], "level": "ERROR", "propagate": True},
    },
}
