#!/usr/bin/env bash
# `make run`, after set-up: the platform simulator, the demo tenant, the API under gunicorn
# on 127.0.0.1:8000, one more account connected through the OAuth flow (the simulator plays
# the platform's consent), one refresh pass, and a token. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
set -a; . ./.dev/env; set +a

SIM_PORT=${SIM_PORT:-8100}
SIM="http://127.0.0.1:${SIM_PORT}"
export STRIPE_API_BASE_URL=$SIM SHOPIFY_API_BASE_URL=$SIM PAYPAL_API_BASE_URL=$SIM \
       WOOCOMMERCE_API_BASE_URL=$SIM GOOGLE_ADS_API_BASE_URL=$SIM META_API_BASE_URL=$SIM \
       GOOGLE_OAUTH_TOKEN_URL="$SIM/token"
export GOOGLE_ADS_DEVELOPER_TOKEN=${GOOGLE_ADS_DEVELOPER_TOKEN:-demo-developer-token}
export GOOGLE_OAUTH_CLIENT_ID=${GOOGLE_OAUTH_CLIENT_ID:-demo-client-id} GOOGLE_OAUTH_CLIENT_SECRET=${GOOGLE_OAUTH_CLIENT_SECRET:-demo-client-secret}
# The OAuth install flows, against the simulator's authorization servers (demo apps it registers).
export STRIPE_OAUTH_CLIENT_ID=${STRIPE_OAUTH_CLIENT_ID:-ca_demo_skeldir} \
       STRIPE_OAUTH_CLIENT_SECRET=${STRIPE_OAUTH_CLIENT_SECRET:-sk_test_demo_platform_key} \
       STRIPE_OAUTH_AUTHORIZE_URL="$SIM/oauth/authorize" STRIPE_OAUTH_TOKEN_URL="$SIM/oauth/token" \
       STRIPE_OAUTH_DEAUTHORIZE_URL="$SIM/oauth/deauthorize" \
       SHOPIFY_OAUTH_CLIENT_ID=${SHOPIFY_OAUTH_CLIENT_ID:-demo-shopify-app} \
       SHOPIFY_OAUTH_CLIENT_SECRET=${SHOPIFY_OAUTH_CLIENT_SECRET:-demo-shopify-app-secret} \
       GOOGLE_OAUTH_AUTHORIZE_URL="$SIM/o/oauth2/v2/auth" GOOGLE_OAUTH_REVOKE_URL="$SIM/revoke" \
       META_OAUTH_CLIENT_ID=${META_OAUTH_CLIENT_ID:-1234567890} \
       META_OAUTH_CLIENT_SECRET=${META_OAUTH_CLIENT_SECRET:-demo-meta-app-secret} \
       META_OAUTH_AUTHORIZE_URL="$SIM/v27.0/dialog/oauth"
# The callback URLs registered with the platforms: never taken from a request's Host header,
# so the API's own address is set here (settings refuse to start without it once an OAuth
# app is configured, unless DJANGO_DEBUG).
API="http://${BIND:-127.0.0.1:8000}"
export OAUTH_REDIRECT_BASE_URL=${OAUTH_REDIRECT_BASE_URL:-$API}
# Plain http on 127.0.0.1: the admin's cookies cannot be Secure-only here (production keeps them so).
export SESSION_COOKIE_SECURE=${SESSION_COOKIE_SECURE:-false} CSRF_COOKIE_SECURE=${CSRF_COOKIE_SECURE:-false}
PY=.venv/bin/python

# Background jobs of a script ignore Ctrl-C's SIGINT, so stopping is explicit: on Ctrl-C,
# TERM, or any exit, both children get SIGTERM and are waited for.
PIDS=()
stop() {
  trap - EXIT INT TERM
  [ ${#PIDS[@]} -eq 0 ] || { kill -TERM "${PIDS[@]}" 2>/dev/null || true; wait "${PIDS[@]}" 2>/dev/null || true; }
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT

$PY manage.py provider_sandbox --port "$SIM_PORT" > .dev/simulator.log 2>&1 &
SIM_PID=$!
PIDS+=("$SIM_PID")
for _ in $(seq 1 50); do
  curl -fsS "$SIM/_sandbox" > /dev/null 2>&1 && break
  kill -0 $SIM_PID 2>/dev/null || { echo "The platform simulator did not start (see .dev/simulator.log)." >&2; exit 1; }
  sleep 0.1
done

TENANT=$($PY manage.py seed_demo | tail -n 1)
TOKEN=$($PY manage.py issue_token --tenant "$TENANT" --scopes viewer --ttl 86400 | tail -n 1)
$PY manage.py collectstatic --no-input --verbosity 0
OPERATOR=$($PY manage.py create_operator --username operator --password-env DEMO_OPERATOR_PASSWORD | tail -n 1)

.venv/bin/gunicorn skeldir.wsgi -c gunicorn.conf.py &
API_PID=$!
PIDS+=("$API_PID")
for _ in $(seq 1 100); do
  curl -fsS "$API/readyz" > /dev/null 2>&1 && break
  kill -0 $API_PID 2>/dev/null || { echo "The API did not start." >&2; exit 1; }
  sleep 0.1
done
# One more account, connected the way a merchant connects one: start → the (simulated)
# platform's consent → callback → confirm, over HTTP against the API that is now running.
OAUTH=$($PY manage.py demo_connect_oauth --tenant "$TENANT" --platform stripe --api "$API" | sed -n 1p)
$PY manage.py refresh_revenue --tenant "$TENANT" --ahead 0
echo
$PY manage.py demo_summary --tenant "$TENANT"

cat <<MSG

Skeldir Revenue is running on $API (demo tenant $TENANT, platforms simulated locally on $SIM).
$OAUTH
Try:

curl -s $API/api/v1/revenue/realtime -H "Authorization: Bearer $TOKEN" -H "X-Correlation-ID: \$(python3 -c 'import uuid; print(uuid.uuid4())')"
curl -s $API/api/v1/connections -H "Authorization: Bearer $TOKEN" -H "X-Correlation-ID: \$(python3 -c 'import uuid; print(uuid.uuid4())')"

OpenAPI: $API/api/schema/  docs: $API/api/docs/
Admin: $API/${ADMIN_URL:-admin/}  (user $OPERATOR, password DEMO_OPERATOR_PASSWORD in .dev/env)
Metrics: $API/metrics  (Ctrl-C to stop)

MSG
wait $API_PID
